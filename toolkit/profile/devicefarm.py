"""AWS Device Farm as a device: the demo app on a pool of real phones, started by a generated test spec.

``--device devicefarm:PROJECT/POOL`` (each by name or ARN) plus the app (``--apk`` or ``--ipa``). For the
artifacts a device is handed, :class:`DeviceFarmDevice` builds the test package and spec
(:mod:`toolkit.profile.devicefarm_spec`: the same headless protocol the USB paths run), uploads the app,
the package and the spec once each (reused by content hash), schedules ONE run on the pool with an
execution timeout, follows it, downloads every phone's customer artifacts and turns each result file into
a record (checked against the result schema and the artifact's sha256). A phone that failed, a run the
service stopped and a timeout each leave one failure line with the console link of that phone's job,
and everything else is stored. The run's ARN is written to the results DB the moment it is scheduled,
so a re-run of the same command follows that run instead of paying for a new one.

Nothing is scheduled without approval: :class:`FarmRequest` carries the app and an ``approve`` callable
that sees the :class:`~toolkit.profile.devicefarm_spec.Estimate` (device minutes) of the run about to be
scheduled. The CLI asks the user before anything runs and installs the request for the devices it creates
(:mod:`toolkit.profile.devicefarm_request`; ``--yes`` skips the question).
"""

from __future__ import annotations

import io
import json
import tempfile
import threading
import urllib.request
import zipfile
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from toolkit.errors import ToolkitError, UsageError
from toolkit.profile import devicefarm_service as service
from toolkit.profile.aihub import JobsOutcome
from toolkit.profile.devicefarm_request import APPS, FarmRequest, current_request, split_spec
from toolkit.profile.devicefarm_service import (
    SERVICE,
    DeviceFarmError,
    DeviceFarmServiceError,
    StoppedError,
    console_url,
    find_pool,
    find_project,
    pool_devices,
    redact,
    service_errors,
    upload,
)
from toolkit.profile.devicefarm_spec import (
    RESULTS_SUBDIR,
    SPEC_TYPE,
    TEST_PACKAGE_TYPE,
    TEST_TYPE,
    FarmRun,
    TestBundle,
    build_bundle,
    plan_run,
)
from toolkit.profile.protocol import ProfileConfig, result_schema_problem

__all__ = ["POLL_S", "SERVICE", "DeviceFarmDevice", "DeviceFarmError", "DeviceFarmServiceError"]

POLL_S = 15.0  # seconds between run status polls: Device Farm runs take minutes
_PLATFORM = {"ANDROID": "android", "IOS": "ios"}
_OS = {"android": "Android", "ios": "iOS"}


class DeviceFarmDevice:
    """A Device Farm device pool running the demo app (``DeviceBackend`` with ``kind == "devicefarm"``).

    ``store`` (a :class:`toolkit.results.ResultsDB`) keeps upload and run ARNs so re-runs reuse and resume;
    ``progress(label, state)`` hears about uploads and run state changes; ``stop`` (a threading.Event) makes
    a waiting run return, leaving the run going on the service.
    """

    kind = "devicefarm"

    def __init__(
        self,
        ident: str,
        *,
        request: FarmRequest | None = None,
        client: Any = None,
        store: Any = None,
        progress: Callable[[str, str], None] | None = None,
        poll_s: float | None = None,  # default POLL_S
        stop: threading.Event | None = None,
    ) -> None:
        self.ident = ident.strip()
        self.project_ref, self.pool_ref = split_spec(self.ident)
        self.request = request if request is not None else current_request()
        self._given, self._client, self.store = client, None, store
        self.poll_s = POLL_S if poll_s is None else poll_s
        self._progress = progress or (lambda label, state: None)
        self._stop = stop or threading.Event()
        self._resolved: tuple[dict[str, Any], dict[str, Any], list[dict[str, Any]]] | None = None

    @property
    def client(self) -> Any:
        if self._client is None:
            self._client = self._given if self._given is not None else service.make_client()
        return self._client

    @property
    def platform(self) -> str:
        if self.request is None:
            raise UsageError(f"devicefarm:{self.ident} needs the demo app: pass --apk app-debug.apk (Android) or "
                             "--ipa BenchApp.ipa (iOS)")  # fmt: skip
        return self.request.platform

    def resolve(self) -> tuple[dict[str, Any], dict[str, Any], list[dict[str, Any]]]:
        """(project, pool, the pool's devices that can run the app's platform); unknown names fail here."""
        if self._resolved is None:
            platform = self.platform
            project = find_project(self.client, self.project_ref)
            pool = find_pool(self.client, project, self.pool_ref)
            devices = pool_devices(self.client, pool, TEST_TYPE)
            if not devices:
                raise UsageError(f"device pool {pool['name']} has no device that can run tests now")
            other = {_PLATFORM.get(d.get("platform"), "?") for d in devices} - {platform}
            if other:
                raise UsageError(f"device pool {pool['name']} holds {'/'.join(sorted(other))} phones, but the app is "
                                 f"for {platform}: pick a {platform} pool or the other app")  # fmt: skip
            self._resolved = (project, pool, devices)
        return self._resolved

    def describe(self) -> dict[str, Any]:
        project, pool, devices = self.resolve()
        return {"kind": self.platform, "name": pool["name"], "serial": pool["arn"], "os": _OS[self.platform],
                "cpu": None, "cores": None, "service": SERVICE, "project": project["name"],
                "devices": sorted(str(d.get("name")) for d in devices)}  # fmt: skip

    def temperature_c(self) -> float | None:
        return None  # the phones are elsewhere; the app records the battery's temperature itself

    # ---- DeviceBackend ---------------------------------------------------------------------
    def run(self, artifact: Path, config: ProfileConfig) -> dict[str, Any]:
        """Measure one artifact on the pool and return the first phone's record (all are in run_batch)."""
        out = self.run_batch([artifact], config)
        if out.error:
            raise DeviceFarmError(out.error)
        if out.pending:
            raise DeviceFarmError(f"stopped while run {out.pending[0]} goes on; re-run to collect it")
        if not out.results:
            raise DeviceFarmError(out.failures[0].split(": ", 1)[1] if out.failures else "no result")
        return out.results[0]

    def run_batch(
        self,
        artifacts: Iterable[Path],
        config: ProfileConfig,
        on_result: Callable[[dict[str, Any]], None] | None = None,
    ) -> JobsOutcome:
        """Run every artifact on every phone of the pool in one Device Farm run; collect each phone's records.

        An artifact the app would refuse is a failure line before anything is uploaded; a phone that fails
        or times out is a failure line per artifact it did not measure; the service out of reach stops the
        batch (``error``) with a scheduled run kept for a re-run; ``stop`` leaves the run ``pending``.
        """
        out = JobsOutcome()
        runs: list[FarmRun] = []
        for artifact in artifacts:
            try:
                runs.append(plan_run(self.platform, Path(artifact), config))
            except ToolkitError as e:
                out.failures.append(f"{Path(artifact).name}: {e}")
        if not runs:
            return out
        bundle = build_bundle(self.platform, runs)
        run_arn = None
        try:
            with tempfile.TemporaryDirectory(prefix="devicefarm-") as tmp:
                run_arn = self._schedule_or_resume(bundle, Path(tmp))
            run = self._follow(run_arn)
            self._collect(bundle, run, out, on_result)
        except DeviceFarmServiceError as e:
            out.error, out.stopped_early = str(e), True
        except StoppedError:
            out.stopped_early = True
        except DeviceFarmError as e:  # the run as a whole (its uploads, its schedule) went wrong
            out.failures += [f"{r.artifact.name}: {e}" for r in bundle.runs]
        if out.stopped_early and run_arn is not None:
            out.pending = [f"{run_arn} ({len(bundle.runs)} artifact(s) on devicefarm:{self.ident}, "
                           f"{console_url(run_arn)})"]  # fmt: skip
        return out

    # ---- one run ---------------------------------------------------------------------------
    def _schedule_or_resume(self, bundle: TestBundle, tmp: Path) -> str:
        """The ARN of the run for this exact bundle: the open one from the DB, else a new, approved one."""
        from toolkit.weights import file_sha256

        package, spec = tmp / "mobilenet-toolkit-bench.zip", tmp / "mobilenet-toolkit-bench.yml"
        bundle.write_package(package)
        spec.write_text(bundle.spec, encoding="utf-8")
        app = Path(self.request.app)  # type: ignore[union-attr]  # platform checked it
        content = file_sha256(package)
        request = f"app={file_sha256(app)} spec={file_sha256(spec)}"
        label = f"run of {len(bundle.runs)} artifact(s)"
        row = self.store.open_job(SERVICE, self.ident, content, "profile", request) if self.store is not None else None
        if row is not None:
            self._progress(label, f"resumed run {row['job_id']}")
            return row["job_id"]
        project, pool, devices = self.resolve()
        estimate = bundle.estimate(len(devices))
        if not self.request.approve(self.ident, estimate):  # type: ignore[union-attr]
            raise DeviceFarmServiceError(f"not scheduled on devicefarm:{self.ident}: {estimate.line()} was not "
                                         "approved (the CLI asks; --yes approves)")  # fmt: skip
        arns = {}
        for path, kind in ((app, APPS[app.suffix][1]), (package, TEST_PACKAGE_TYPE), (spec, SPEC_TYPE)):
            if self._stop.is_set():
                raise StoppedError
            arns[kind] = upload(self.client, self.store, project["arn"], path, kind, stop=self._stop,
                                progress=lambda state, name=path.name: self._progress(name, state))  # fmt: skip
        if self._stop.is_set():
            raise StoppedError
        with service_errors(f"schedule a run on pool {pool['name']}", self.client):
            run = self.client.schedule_run(
                projectArn=project["arn"], appArn=arns[APPS[app.suffix][1]], devicePoolArn=pool["arn"],
                name=f"mobilenet-toolkit {len(bundle.runs)} artifact(s)",
                test={"type": TEST_TYPE, "testPackageArn": arns[TEST_PACKAGE_TYPE], "testSpecArn": arns[SPEC_TYPE]},
                executionConfiguration={"jobTimeoutMinutes": estimate.timeout_min},
            )["run"]  # fmt: skip
        if self.store is not None:
            self.store.save_job(SERVICE, run["arn"], device=self.ident, artifact_sha256=content, kind="profile",
                                request=request, url=console_url(run["arn"]))  # fmt: skip
        self._progress(label, f"scheduled run {run['arn']} on {len(devices)} phone(s)")
        return run["arn"]

    def _follow(self, arn: str) -> dict[str, Any]:
        """Poll the run until it completes; StoppedError when ``stop`` is set (the run goes on)."""
        seen = None
        while True:
            with service_errors(f"follow run {arn}", self.client):
                run = self.client.get_run(arn=arn)["run"]
            state = (run.get("status"), run.get("completedJobs"))
            if state != seen:
                seen = state
                done = f", {run.get('completedJobs', 0)}/{run.get('totalJobs', '?')} phones done"
                self._progress(f"run {arn.rsplit('/', 1)[-1]}", f"{run.get('status', '?').lower()}{done}")
                if self.store is not None and run.get("status") not in ("PENDING", "COMPLETED"):
                    self.store.set_job_state(SERVICE, arn, "running")
            if run.get("status") == "COMPLETED":
                if self.store is not None:
                    self.store.set_job_state(SERVICE, arn, "succeeded")
                return run
            if self._stop.wait(self.poll_s):
                raise StoppedError

    def _collect(self, bundle: TestBundle, run: dict[str, Any], out: JobsOutcome,
                 on_result: Callable[[dict[str, Any]], None] | None) -> None:  # fmt: skip
        """Every phone's records from its customer artifacts; a failure line for each run a phone did not finish."""
        arn = run["arn"]
        with service_errors(f"list the phones of run {arn}", self.client):
            jobs = [j for p in self.client.get_paginator("list_jobs").paginate(arn=arn) for j in p.get("jobs", [])]
        if not jobs:
            why = redact(run.get("message") or f"no phone ran it ({run.get('result', '?')})", self.client)
            out.failures += [f"{r.artifact.name}: run {run.get('result', '?')}: {why} (log: {console_url(arn)})"
                             for r in bundle.runs]  # fmt: skip
        stored = 0
        for job in jobs:
            try:
                files = self._result_files(job)
            except DeviceFarmServiceError:
                raise
            except DeviceFarmError as e:  # this phone's results are unreadable; the other phones' are not
                out.failures += [f"{r.artifact.name}: {e}" for r in bundle.runs]
                continue
            for r in bundle.runs:
                try:
                    record = self._record(bundle, r, job, run, files)
                except DeviceFarmServiceError:
                    raise
                except ToolkitError as e:
                    out.failures.append(f"{r.artifact.name}: {e}")
                    continue
                out.results.append(record)
                stored += 1
                if on_result is not None:
                    on_result(record)
        if self.store is not None:
            state, why = ("stored", None) if stored else ("failed", f"{run.get('result')}: {run.get('message') or ''}")
            self.store.set_job_state(SERVICE, arn, state, why and redact(why, self.client))
        self._progress(f"run {arn.rsplit('/', 1)[-1]}", f"{stored} record(s) from {len(jobs)} phone(s)")

    def _result_files(self, job: dict[str, Any]) -> dict[str, bytes]:
        """The files under mobilenet-results/ in the phone's customer artifacts zip ({} when there is none)."""
        with service_errors(f"list the artifacts of job {job['arn']}", self.client):
            found = [a for p in self.client.get_paginator("list_artifacts").paginate(arn=job["arn"], type="FILE")
                     for a in p.get("artifacts", [])]  # fmt: skip
        files: dict[str, bytes] = {}
        for artifact in (a for a in found if a.get("type") == "CUSTOMER_ARTIFACT" and a.get("url")):
            try:
                with urllib.request.urlopen(artifact["url"], timeout=300) as response:
                    data = response.read()
                with zipfile.ZipFile(io.BytesIO(data)) as z:
                    for name in z.namelist():
                        parts = name.rstrip("/").split("/")
                        if len(parts) >= 2 and parts[-2] == RESULTS_SUBDIR:
                            files[parts[-1]] = z.read(name)
            except (OSError, zipfile.BadZipFile) as e:  # the URL is presigned and expires: never kept or shown
                phone = job.get("device", {}).get("name")
                raise DeviceFarmError(f"the customer artifacts of {phone} could not be read ({type(e).__name__}); "
                                      "re-run to fetch them again") from None  # fmt: skip
        return files

    def _record(self, bundle: TestBundle, r: FarmRun, job: dict[str, Any], run: dict[str, Any],
                files: Mapping[str, bytes]) -> dict[str, Any]:  # fmt: skip
        phone = job.get("device") or {}
        where = f"on {phone.get('name', '?')}"
        log = f"(log: {console_url(job['arn'])})"
        if r.result_name not in files:
            if r.error_name in files:
                raise DeviceFarmError(f"the app refused it {where}: {_app_error(files[r.error_name])} {log}")
            state = job.get("result", "?")
            why = redact(job.get("message") or "", self.client)
            if state == "STOPPED" or "timed out" in why.lower() or "timeout" in why.lower():
                timeout = run.get("jobTimeoutMinutes")
                why = why or f"stopped at the {timeout}-minute execution timeout or by the service"
            raise DeviceFarmError(f"no result {where}: job {state}{': ' + why if why else ''} {log}")
        try:
            record = json.loads(files[r.result_name])
        except (UnicodeDecodeError, json.JSONDecodeError):
            raise DeviceFarmError(f"the result {where} is not JSON {log}") from None
        if (record.get("artifact") or {}).get("sha256") != r.sha256:
            raise DeviceFarmError(f"the phone measured a different {r.artifact.name} {where} (sha256 mismatch)")
        app_device = record.get("device") or {}
        record["device"] = {**app_device, "kind": bundle.platform, "name": phone.get("name") or app_device.get("name"),
                            "os": app_device.get("os") or f"{_OS[bundle.platform]} {phone.get('os', '?')}",
                            "serial": None, "service": SERVICE}  # fmt: skip
        record["job"] = {"service": SERVICE, "id": job["arn"], "url": console_url(job["arn"]), "service_version": None}
        record["notes"] = [*record.get("notes", []), f"measured on AWS Device Farm, run {run['arn']}"]
        problem = result_schema_problem(record)
        if problem:
            raise DeviceFarmError(f"the app {where} wrote an invalid result {problem}")
        return record


def _app_error(data: bytes) -> str:
    """The app's own refusal: Android's ``{"error", "stage"}`` JSON or iOS's one-line text file."""
    text = data.decode("utf-8", errors="replace").strip()
    try:
        err = json.loads(text)
    except json.JSONDecodeError:
        return text.splitlines()[0] if text else "no reason given"
    return f"({err.get('stage', '?')}) {err.get('error', 'no reason given')}" if isinstance(err, dict) else text
