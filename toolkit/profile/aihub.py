"""Qualcomm AI Hub as a device: real Snapdragon phones in the cloud, through the ``qai_hub`` client.

Written against qai-hub 0.56.0, read from its source (``qai_hub/client.py``). What this module relies on:

- ``qai_hub.Client()`` reads the API token from qai-hub's own configuration (``~/.qai_hub/client.ini``,
  written by ``qai-hub configure --api_token ...``, or the file ``$QAIHUB_CLIENT_INI`` names). The toolkit
  never sees, stores or prints the token. No file: ``UserError("Failed to load client configuration
  file...")``; a bad or expired token: ``UserError("Failed to authenticate...")`` on the first request;
  no network: ``InternalError("...Could not connect...")``.
- ``get_devices()`` → ``[Device(name, os, attributes)]``; attributes such as ``os:android``,
  ``chipset:qualcomm-snapdragon-8gen3``, ``framework:tflite``.
- ``upload_model(path)`` / ``get_model(id)`` → ``Model`` (``model_id``; ``input_spec``/``output_spec`` as
  ``{None: [TensorSpec(name, dtype, shape, scale, zero_point)]}`` from the service).
- A profile job is ``submit_inference_job(model, device, profile=True)`` (0.56 deprecates
  ``submit_profile_job``, which forwards there); ``get_job(id)`` → ``InferenceJob`` with ``url``,
  ``hub_version`` and ``get_status()`` → ``JobStatus(state, message)``, the message being the service's
  failure reason. ``download_profile()`` and ``download_output_data()`` fetch a finished job's results.

One profile job per (artifact, device). Each artifact is uploaded once and its model id kept in the
results DB by content hash; each job is written to the DB the moment the service accepts it, so a re-run
(after Ctrl-C, a lost network, a closed laptop) follows the same job instead of paying for a new one.
"""

from __future__ import annotations

import contextlib
import difflib
import re
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from toolkit.errors import ToolkitError, UsageError
from toolkit.profile.protocol import DeviceError, DeviceGoneError, PhoneSweepOutcome, ProfileConfig

__all__ = [
    "POLL_S",
    "RUNTIMES",
    "SERVICE",
    "AIHubDevice",
    "AIHubError",
    "AIHubServiceError",
    "JobsOutcome",
    "find_device",
    "job_options",
    "list_devices",
    "prepare",
    "service_errors",
]

SERVICE = "aihub"
RUNTIMES = {".tflite": "tflite", ".onnx": "onnxruntime"}  # what AI Hub runs as uploaded (no compile job)
_OTHER_FORMATS = {".pte": "an ExecuTorch program", ".mlpackage": "a Core ML package"}
_UNITS = ("npu", "gpu", "cpu")
_CONFIGURE = "run `qai-hub configure --api_token YOUR_TOKEN` once (the token is on your AI Hub account page)"
_UPLOADS = threading.Lock()  # one upload per artifact even when several devices want it at once
POLL_S = 10.0  # seconds between status polls: qai-hub's own Job._polling_interval


class AIHubError(DeviceError, ToolkitError):
    """One job or artifact went wrong (refused, failed on the phone); the others go on."""


class AIHubServiceError(AIHubError, DeviceGoneError):
    """The service itself is out of reach (no credentials, token refused, no network): stop, keep what landed."""


class _StoppedError(Exception):
    """The caller asked to stop (Ctrl-C in a sweep): leave the jobs running, a re-run collects them."""


@dataclass
class JobsOutcome(PhoneSweepOutcome):
    """Finished records and failures, plus the jobs still running on the service when stopped."""

    pending: list[str] = field(default_factory=list)
    error: str | None = None  # the service itself failed (credentials, network): nothing more was tried


def _one_line(err: BaseException) -> str:
    """The client's message without its ASCII box and wrapping: one line."""
    text = re.sub(r"[┌┐└┘─│|]", " ", str(err))
    return re.sub(r"\s+", " ", text).strip()


@contextlib.contextmanager
def service_errors(what: str) -> Iterator[None]:
    """Turn the client's exceptions into one line naming what to do; never a traceback."""
    from qai_hub.client import Error, InternalError, RateLimitedError
    from qai_hub.public_rest_api import APIException

    try:
        yield
    except (Error, APIException) as e:
        line = _one_line(e)
        if "configuration file" in line or "API token is missing" in line:
            raise AIHubServiceError(f"no AI Hub credentials: {_CONFIGURE}") from None
        if "authenticate" in line:
            raise AIHubServiceError(f"AI Hub refused the API token (bad or expired): {_CONFIGURE}") from None
        if isinstance(e, InternalError | RateLimitedError):
            raise AIHubServiceError(f"AI Hub could not {what}: {line.removeprefix('Internal API failure. ')}") from None
        raise AIHubError(f"AI Hub could not {what}: {line}") from None


def connect(client: Any = None) -> Any:
    """A ``qai_hub.Client`` on the user's own configuration, quiet (the toolkit shows its own progress)."""
    from toolkit._deps import require

    require("qai_hub")
    import qai_hub

    client = client if client is not None else qai_hub.Client()
    with service_errors("read its configuration"):
        client.set_verbose(False)  # in memory only; the config file is not touched
    return client


def _os_version(device: Any) -> tuple[int, ...]:
    return tuple(int(x) for x in re.findall(r"\d+", device.os or ""))


def _attr(device: Any, prefix: str) -> str | None:
    return next((a.split(":", 1)[1] for a in device.attributes if a.startswith(prefix + ":")), None)


def list_devices(client: Any = None) -> list[Any]:
    """Every device the service offers (``qai_hub.Device``), sorted by name then newest OS."""
    client = connect(client)
    with service_errors("list its devices"):
        devices = client.get_devices()
    return sorted(devices, key=lambda d: (d.name, tuple(-x for x in _os_version(d))))


def find_device(client: Any, name: str) -> Any:
    """The device called ``name`` (its newest OS); an unknown name lists the closest ones offered."""
    devices = list_devices(client)
    same = [d for d in devices if d.name == name] or [d for d in devices if d.name.lower() == name.lower()]
    if not same:
        names = sorted({d.name for d in devices})
        close = difflib.get_close_matches(name, names, n=5, cutoff=0.3)
        close += [n for n in names if name.lower() in n.lower() and n not in close][: 5 - len(close)]
        hint = f"closest: {', '.join(close)}" if close else f"{len(names)} devices offered"
        raise UsageError(f"AI Hub has no device {name!r}; {hint} (`toolkit aihub devices` lists them all)")
    best = max(same, key=_os_version)
    if _attr(best, "os") not in ("android", "ios"):
        raise UsageError(f"{best.name} is a {_attr(best, 'os') or 'non-phone'} device; the toolkit measures phones")
    return best


def job_options(config: ProfileConfig) -> str:
    """The job's command-line options for this protocol; refuses what AI Hub cannot honour.

    A thread count is not an option AI Hub takes: the record says ``threads: 0`` (the runtime's default).
    """
    if config.duration_s is not None:
        raise UsageError("AI Hub runs a number of iterations, not a duration: use --iterations for an aihub device")
    opts = f"--max_profiler_iterations {config.iterations}"
    if config.delegate:
        units = [u.strip().lower() for u in config.delegate.split(",")]
        if units != ["all"] and not set(units) <= set(_UNITS):
            raise UsageError(f"AI Hub compute units are all or a list of {', '.join(_UNITS)}; got {config.delegate!r}")
        opts += f" --compute_unit {','.join(units)}"
    return opts


@dataclass
class _Artifact:
    path: Path
    manifest: dict[str, Any]
    sha256: str
    runtime: str


def prepare(artifact: Path) -> _Artifact:
    """Check that AI Hub can run ``artifact`` and that its bytes are the ones its manifest describes."""
    from toolkit.export.manifest import tree_sha256
    from toolkit.runtimes import read_manifest

    path = Path(artifact)
    if path.suffix not in RUNTIMES:
        kind = _OTHER_FORMATS.get(path.suffix, f"a {path.suffix or 'extensionless'} file")
        raise UsageError(f"AI Hub cannot run {path.name} ({kind}): it runs .tflite and .onnx artifacts")
    manifest = read_manifest(path)
    sha = tree_sha256(path)
    if manifest.get("artifact", {}).get("sha256") != sha:
        raise UsageError(f"{path.name} changed since it was exported (sha256 differs from its manifest): re-export it")
    return _Artifact(path, manifest, sha, RUNTIMES[path.suffix])


class AIHubDevice:
    """A phone on Qualcomm AI Hub (``DeviceBackend`` with ``kind == "aihub"``).

    ``store`` (a :class:`toolkit.results.ResultsDB`) keeps model ids and job ids so re-runs resume;
    ``progress(label, state)`` hears about uploads, submissions and every job state change;
    ``stop`` (a ``threading.Event``) makes a waiting sweep return, leaving its jobs running.
    """

    kind = "aihub"

    def __init__(
        self,
        name: str,
        *,
        client: Any = None,
        store: Any = None,
        progress: Callable[[str, str], None] | None = None,
        poll_s: float | None = None,  # default POLL_S
        stop: threading.Event | None = None,
    ) -> None:
        if not name.strip():
            raise UsageError("aihub needs a device name, e.g. --device 'aihub:Samsung Galaxy S24'")
        self.name = name.strip()
        self._given, self._client, self.store = client, None, store
        self.poll_s = POLL_S if poll_s is None else poll_s
        self._progress = progress or (lambda label, state: None)
        self._stop = stop or threading.Event()
        self._device: Any = None

    @property
    def client(self) -> Any:
        if self._client is None:
            self._client = connect(self._given)
        return self._client

    @property
    def device(self) -> Any:
        """The service's ``Device`` for this name (resolved once; unknown names fail here)."""
        if self._device is None:
            self._device = find_device(self.client, self.name)
        return self._device

    def describe(self) -> dict[str, Any]:
        d = self.device
        platform = _attr(d, "os")
        chipset = _attr(d, "chipset")
        return {"kind": platform, "name": d.name, "serial": None,
                "os": f"{'Android' if platform == 'android' else 'iOS'} {d.os}".strip(), "cpu": chipset,
                "cores": None, "service": SERVICE, "chipset": chipset, "vendor": _attr(d, "vendor"),
                "form_factor": _attr(d, "format")}  # fmt: skip

    def temperature_c(self) -> float | None:
        return None  # the service does not expose the phone's sensors

    # ---- jobs ------------------------------------------------------------------------------
    def model(self, art: _Artifact) -> Any:
        """The service's model for these bytes: the cached id when still there, else one upload."""
        with _UPLOADS:
            model_id = self.store.cached_model(SERVICE, art.sha256) if self.store is not None else None
            if model_id is not None:
                try:
                    with service_errors("find the uploaded model"):
                        return self.client.get_model(model_id)
                except AIHubServiceError:
                    raise
                except AIHubError:
                    pass  # deleted on the service: upload again
            self._progress(art.path.name, "uploading")
            with service_errors(f"upload {art.path.name}"):
                model = self.client.upload_model(str(art.path), name=art.path.name)
            if self.store is not None:
                self.store.cache_model(SERVICE, art.sha256, model.model_id)
            return model

    def job(self, art: _Artifact, kind: str, options: str, inputs: dict | None = None, tag: str = "") -> Any:
        """The job for this request: the open one from the DB if any, else a new submission (recorded)."""
        request = f"{options} {tag}".strip()
        row = self.store.open_job(SERVICE, self.name, art.sha256, kind, request) if self.store is not None else None
        if row is not None:
            try:
                with service_errors(f"find job {row['job_id']}"):
                    job = self.client.get_job(row["job_id"])
                self._progress(art.path.name, f"resumed job {job.job_id}")
                return job
            except AIHubServiceError:
                raise
            except AIHubError as e:
                self.store.set_job_state(SERVICE, row["job_id"], "failed", str(e))
        model = self.model(art)
        with service_errors(f"submit {art.path.name} to {self.name}"):
            job = self.client.submit_inference_job(model, device=self.device, inputs=inputs, name=art.path.name,
                                                   options=options, profile=kind == "profile")  # fmt: skip
        if self.store is not None:
            self.store.save_job(SERVICE, job.job_id, device=self.name, artifact_sha256=art.sha256, kind=kind,
                                request=request, url=job.url)  # fmt: skip
        self._progress(art.path.name, f"submitted job {job.job_id}")
        return job

    def follow(self, jobs: dict[str, Any], on_done: Callable[[str, Any, Any], None]) -> None:
        """Poll ``{label: job}`` until each finishes, calling ``on_done(label, job, status)`` as each does.

        Raises ``_StoppedError`` when ``stop`` is set; the unfinished jobs are left in ``jobs``.
        """
        seen: dict[str, str] = {}
        while jobs:
            for label, job in list(jobs.items()):
                with service_errors(f"follow job {job.job_id}"):
                    status = job.get_status()
                if seen.get(label) != status.code:
                    seen[label] = status.code
                    self._progress(label, f"{status.code.lower().replace('_', ' ')} (job {job.job_id})")
                    if self.store is not None and status.running:
                        self.store.set_job_state(SERVICE, job.job_id, "running")
                if status.finished:
                    del jobs[label]
                    on_done(label, job, status)
            if jobs and self._stop.wait(self.poll_s):
                raise _StoppedError

    def record_failure(self, job: Any, status: Any) -> str:
        reason = status.message or "no reason given"
        if self.store is not None:
            self.store.set_job_state(SERVICE, job.job_id, "failed", f"{reason} ({job.url})")
        return f"failed on {self.name}: {reason} (log: {job.url})"

    # ---- DeviceBackend ---------------------------------------------------------------------
    def run(self, artifact: Path, config: ProfileConfig) -> dict[str, Any]:
        """Profile one artifact (upload, submit or resume, wait); AIHubError when the job fails."""
        out = self.run_batch([artifact], config)
        if out.error:
            raise AIHubServiceError(out.error)
        if out.failures:
            raise AIHubError(out.failures[0].split(": ", 1)[1])
        if out.pending:
            raise AIHubError(f"stopped while job {out.pending[0]} runs; re-run to collect it")
        return out.results[0]

    def run_batch(
        self,
        artifacts: Iterable[Path],
        config: ProfileConfig,
        on_result: Callable[[dict[str, Any]], None] | None = None,
    ) -> JobsOutcome:
        """Submit every artifact at once (the service runs them in parallel), then collect each as it lands.

        A refused artifact or a job failing on the phone is a failure line and the rest go on; a service
        out of reach stops the batch (``stopped_early``) with submitted jobs kept for a re-run.
        """
        out = JobsOutcome()
        options = job_options(config)
        jobs: dict[str, Any] = {}
        arts: dict[str, _Artifact] = {}
        try:
            for artifact in artifacts:
                label = Path(artifact).name
                if self._stop.is_set():
                    raise _StoppedError
                try:
                    arts[label] = prepare(artifact)
                    jobs[label] = self.job(arts[label], "profile", options)
                except AIHubServiceError:
                    raise
                except ToolkitError as e:
                    out.failures.append(f"{label}: {e}")

            def done(label: str, job: Any, status: Any) -> None:
                if not status.success:
                    out.failures.append(f"{label}: {self.record_failure(job, status)}")
                    return
                try:
                    record = self._record(arts[label], job, config)
                except AIHubServiceError:
                    raise
                except ToolkitError as e:  # left "succeeded": a re-run downloads it again
                    out.failures.append(f"{label}: {e}")
                    return
                if self.store is not None:
                    self.store.set_job_state(SERVICE, job.job_id, "succeeded")
                out.results.append(record)
                self._progress(label, "stored" if on_result else "done")
                if on_result is not None:
                    on_result(record)

            self.follow(jobs, done)
        except AIHubServiceError as e:
            out.error, out.stopped_early = str(e), True
        except _StoppedError:
            out.stopped_early = True
        out.pending = [f"{job.job_id} ({label} on {self.name}, {job.url})" for label, job in jobs.items()]
        return out

    def _record(self, art: _Artifact, job: Any, config: ProfileConfig) -> dict[str, Any]:
        from toolkit.profile.aihub_record import profile_record
        from toolkit.schemas import result_schema_problem

        with service_errors(f"download the profile of job {job.job_id}"):
            profile = job.download_profile()
            version = job.hub_version or self.client.get_job(job.job_id).hub_version  # a submitted job has none yet
        ident = {"service": SERVICE, "id": job.job_id, "url": job.url, "service_version": version or None}
        record = profile_record(profile, device=self.describe(), artifact=art.path, manifest=art.manifest,
                                config=config, runtime=art.runtime, job=ident)  # fmt: skip
        problem = result_schema_problem(record)
        if problem:
            raise AIHubError(f"job {job.job_id} gave a profile the toolkit cannot store {problem}")
        return record
