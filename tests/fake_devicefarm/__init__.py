"""AWS Device Farm without AWS: botocore's own Stubber for the API, a local HTTP server for S3, a test host.

Only what cannot be had here is stood in for, and each stand-in is as strict as the real thing:

- the API: :class:`Farm` queues responses on botocore's ``Stubber`` for a real ``devicefarm`` client made by
  the toolkit's own :func:`toolkit.profile.devicefarm_service.make_client`. The Stubber checks every call's
  name, order and parameters against what the test expects AND against the installed service model
  (botocore 1.40, ``devicefarm`` 2015-06-23), and every response against the model's output shapes, so a
  call or field the real API would refuse fails here too. Responses are built from the model's shapes
  (:func:`device`, :func:`upload`, :func:`run`, :func:`job`, :func:`artifact`) with realistic ARNs.
- S3: :class:`FarmServer` (http.server in a thread) takes the presigned-URL PUT exactly as S3 does with a
  URL signed for a content type: another ``Content-Type``, a missing length or an unknown URL is a 403 with
  S3's ``SignatureDoesNotMatch``. It serves each phone's "Customer Artifacts" zip for download.
- Device Farm's test host: :func:`run_on_test_host` executes a test spec's phases the way the service does
  (``install``, ``pre_test``, ``test``, ``post_test``; ``$DEVICEFARM_*`` set; the test package unpacked),
  here against the fake Android phone of tests/fake_adb (which runs the app's own Java), then zips
  ``$DEVICEFARM_LOG_DIR`` as the phone's customer artifacts.
"""

from __future__ import annotations

import datetime as dt
import io
import os
import subprocess
import threading
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

__all__ = [
    "ACCOUNT",
    "POOL_ARN",
    "PROJECT_ARN",
    "FakeIPhones",
    "Farm",
    "FarmServer",
    "artifact",
    "device",
    "job",
    "run",
    "run_on_test_host",
    "upload",
]

ACCOUNT = "123456789012"
PROJECT_ID = "5e01a8c7-c861-4c0a-b1d5-5ec6e6c6dd23"
PROJECT_ARN = f"arn:aws:devicefarm:us-west-2:{ACCOUNT}:project:{PROJECT_ID}"
POOL_ARN = f"arn:aws:devicefarm:us-west-2:{ACCOUNT}:devicepool:{PROJECT_ID}/b2b5f8d4-3f0e-4a4b-9d3e-0c5b5a9e7c11"
RUN_ID = "0fcac17b-cd3e-4b8c-a2c4-7f0a5e0b8d21"
RUN_ARN = f"arn:aws:devicefarm:us-west-2:{ACCOUNT}:run:{PROJECT_ID}/{RUN_ID}"
WHEN = dt.datetime(2026, 3, 2, 9, 30, tzinfo=dt.timezone.utc)


def device(name: str, model: str, os_version: str = "14", platform: str = "ANDROID", n: int = 1) -> dict[str, Any]:
    """A Device as list/get calls return it (every field of the model's Device shape that a phone has)."""
    return {"arn": f"arn:aws:devicefarm:us-west-2::device:{n:04X}D1B5E4B4B7A47E7B8C1E8B4CF6C0D7E",
            "name": name, "manufacturer": name.split()[0], "model": model, "modelId": model.replace(" ", ""),
            "formFactor": "PHONE", "platform": platform, "os": os_version,
            "cpu": {"frequency": "MHz", "architecture": "arm64-v8a" if platform == "ANDROID" else "arm64",
                    "clock": 2910.0},
            "resolution": {"width": 1080, "height": 2400}, "heapSize": 0, "memory": 128_000_000_000,
            "image": f"{model}-{os_version}", "remoteAccessEnabled": False, "remoteDebugEnabled": False,
            "fleetType": "PUBLIC", "availability": "HIGHLY_AVAILABLE"}  # fmt: skip


def upload(n: int, name: str, kind: str, status: str, url: str | None = None, **extra: Any) -> dict[str, Any]:
    """An Upload: INITIALIZED with the presigned URL right after create_upload, then PROCESSING/SUCCEEDED/FAILED."""
    body = {"arn": f"arn:aws:devicefarm:us-west-2:{ACCOUNT}:upload:{PROJECT_ID}/{n:08d}-5a1b-4c2d-8e3f-1a2b3c4d5e6f",
            "name": name, "created": WHEN, "type": kind, "status": status, "contentType": "application/octet-stream",
            "category": "PRIVATE", **extra}  # fmt: skip
    if url is not None:
        body["url"] = url
    return body


def run(status: str, result: str = "PENDING", done: int = 0, total: int = 3, **extra: Any) -> dict[str, Any]:
    """A Run of the toolkit's test type on the pool, as get_run returns it."""
    counters = {"total": total, "passed": done, "failed": 0, "warned": 0, "errored": 0, "stopped": 0, "skipped": 0}
    body = {"arn": RUN_ARN, "name": "mobilenet-toolkit", "type": "APPIUM_NODE", "platform": "ANDROID",
            "created": WHEN, "status": status, "result": result, "started": WHEN, "counters": counters,
            "totalJobs": total, "completedJobs": done, "billingMethod": "METERED",
            "deviceMinutes": {"total": 2.5 * done, "metered": 2.5 * done, "unmetered": 0.0},
            "devicePoolArn": POOL_ARN, "jobTimeoutMinutes": 10, "locale": "en_US", "skipAppResign": False}  # fmt: skip
    body.update(extra)
    return body


def job(n: int, phone: dict[str, Any], result: str, message: str | None = None) -> dict[str, Any]:
    """A completed Job (one phone of the run)."""
    body = {"arn": f"arn:aws:devicefarm:us-west-2:{ACCOUNT}:job:{PROJECT_ID}/{RUN_ID}/{n:05d}", "name": phone["name"],
            "type": "APPIUM_NODE", "created": WHEN, "status": "COMPLETED", "result": result, "started": WHEN,
            "stopped": WHEN + dt.timedelta(minutes=4),
            "counters": {"total": 1, "passed": int(result == "PASSED"), "failed": int(result == "FAILED"),
                         "warned": 0, "errored": int(result == "ERRORED"), "stopped": int(result == "STOPPED"),
                         "skipped": 0},
            "device": phone, "deviceMinutes": {"total": 4.0, "metered": 4.0, "unmetered": 0.0}}  # fmt: skip
    if message is not None:
        body["message"] = message
    return body


def artifact(job_arn: str, kind: str, name: str, extension: str, url: str) -> dict[str, Any]:
    return {"arn": job_arn.replace(":job:", ":artifact:") + f"/{abs(hash(name)) % 10**5:05d}", "name": name,
            "type": kind, "extension": extension, "url": url}  # fmt: skip


class FarmServer:
    """S3 for presigned uploads (PUT) and artifact downloads (GET), on 127.0.0.1 in a thread."""

    def __init__(self) -> None:
        self.received: dict[str, bytes] = {}  # path → bytes PUT there
        self.files: dict[str, bytes] = {}  # path → bytes served by GET
        self._expected: set[str] = set()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _refuse(self, code: int, why: str) -> None:
                body = f"<Error><Code>{why}</Code></Error>".encode()
                self.send_response(code)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_PUT(self) -> None:
                path = self.path.split("?", 1)[0]
                if path not in server._expected or "X-Amz-Signature=" not in self.path:
                    return self._refuse(403, "AccessDenied")
                if self.headers.get("Content-Type") != "application/octet-stream":
                    return self._refuse(403, "SignatureDoesNotMatch")  # the URL was signed for this type
                if self.headers.get("Content-Length") is None:
                    return self._refuse(411, "MissingContentLength")
                server.received[path] = self.rfile.read(int(self.headers["Content-Length"]))
                self.send_response(200)
                self.send_header("ETag", '"fake"')
                self.send_header("Content-Length", "0")
                self.end_headers()

            def do_GET(self) -> None:
                data = server.files.get(self.path.split("?", 1)[0])
                if data is None:
                    return self._refuse(404, "NoSuchKey")
                self.send_response(200)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self._http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._http.serve_forever, daemon=True)
        self._thread.start()

    def presigned(self, path: str) -> str:
        """A URL the next PUT to ``path`` may use (signed for application/octet-stream)."""
        self._expected.add(path)
        query = "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-SignedHeaders=content-type%3Bhost&X-Amz-Signature=0f1e2d3c"
        return f"http://127.0.0.1:{self._http.server_port}{path}?{query}"

    def serve(self, path: str, data: bytes) -> str:
        self.files[path] = data
        return f"http://127.0.0.1:{self._http.server_port}{path}?X-Amz-Signature=9a8b7c"

    def close(self) -> None:
        self._http.shutdown()
        self._http.server_close()


class Farm:
    """The calls a test expects, in order, on botocore's Stubber for one real ``devicefarm`` client."""

    def __init__(self, client: Any, server: FarmServer) -> None:
        from botocore.stub import Stubber

        self.client, self.server = client, server
        self.stub = Stubber(client)
        self.stub.activate()
        self._uploads = 0

    def add(self, method: str, response: dict[str, Any], params: dict[str, Any] | None = None) -> None:
        self.stub.add_response(method, response, params)

    def error(self, method: str, code: str, message: str, status: int = 400) -> None:
        self.stub.add_client_error(method, service_error_code=code, service_message=message, http_status_code=status)

    def resolve(self, phones: list[dict[str, Any]], projects: list[str] = ("mobilenet-bench",),
                pools: list[str] = ("Pixels",)) -> None:  # fmt: skip
        """list_projects, list_device_pools, get_device_pool_compatibility: what resolving a spec costs."""
        project_list = [{"arn": PROJECT_ARN if i == 0 else PROJECT_ARN[:-4] + f"{i:04d}", "name": name,
                         "defaultJobTimeoutMinutes": 150, "created": WHEN}
                        for i, name in enumerate(projects)]  # fmt: skip
        self.add("list_projects", {"projects": project_list}, {})
        pool_list = [{"arn": POOL_ARN if i == 0 else POOL_ARN[:-4] + f"{i:04d}", "name": name, "type": "PRIVATE",
                      "rules": [{"attribute": "PLATFORM", "operator": "EQUALS", "value": '"ANDROID"'}],
                      "maxDevices": 5} for i, name in enumerate(pools)]  # fmt: skip
        self.add("list_device_pools", {"devicePools": pool_list}, {"arn": PROJECT_ARN})
        self.add("get_device_pool_compatibility",
                 {"compatibleDevices": [{"device": p, "compatible": True} for p in phones], "incompatibleDevices": []},
                 {"devicePoolArn": POOL_ARN, "testType": "APPIUM_NODE"})  # fmt: skip

    def fresh_upload(self, name: str, kind: str, processing: int = 1) -> str:
        """create_upload, (the PUT), get_upload PROCESSING × n, then SUCCEEDED; returns the upload ARN."""
        self._uploads += 1
        path = f"/prod-us-west-2-uploads/{ACCOUNT}/{self._uploads:03d}/{name}"
        made = upload(self._uploads, name, kind, "INITIALIZED", self.server.presigned(path))
        self.add(
            "create_upload",
            {"upload": made},
            {"projectArn": PROJECT_ARN, "name": name, "type": kind, "contentType": "application/octet-stream"},
        )
        for _ in range(processing):
            self.add("get_upload", {"upload": upload(self._uploads, name, kind, "PROCESSING")}, {"arn": made["arn"]})
        self.add("get_upload", {"upload": upload(self._uploads, name, kind, "SUCCEEDED", metadata="{}")},
                 {"arn": made["arn"]})  # fmt: skip
        return made["arn"]

    def put_path(self, n: int, name: str) -> str:
        return f"/prod-us-west-2-uploads/{ACCOUNT}/{n:03d}/{name}"


class FakeIPhones:
    """iPhones attached to an iOS test host, reached through the fake ``xcrun devicectl`` (fake_xcrun.py)."""

    def __init__(self, root: Path) -> None:
        import json
        import sys

        self.state, self.bin = root / "state", root / "bin"
        self.state.mkdir(parents=True)
        self.bin.mkdir()
        (self.state / "phones.json").write_text(json.dumps({}))
        xcrun = self.bin / "xcrun"
        repo = Path(__file__).resolve().parents[2]
        script = Path(__file__).with_name("fake_xcrun.py")
        xcrun.write_text(f'#!/bin/sh\nPYTHONPATH="{repo}" exec "{sys.executable}" "{script}" "$@"\n')
        xcrun.chmod(0o755)

    def add(self, udid: str, ios_version: str = "17.5.1", apps: tuple[str, ...] = ("org.mobilenet-toolkit.BenchApp",)):
        import json

        phones = json.loads((self.state / "phones.json").read_text())
        phones[udid] = {"ios_version": ios_version, "apps": list(apps)}
        (self.state / "phones.json").write_text(json.dumps(phones))

    def env(self) -> dict[str, str]:
        return {"PATH": f"{self.bin}{os.pathsep}{os.environ.get('PATH', '')}", "FAKE_XCRUN_STATE": str(self.state)}


def run_on_test_host(package: bytes, spec: str, work: Path, env: dict[str, str], udid: str,
                     platform: str = "Android") -> tuple[bytes, list]:  # fmt: skip
    """Run a test spec as Device Farm's test host does; (the customer artifacts zip, [(phase, command, exit)]).

    The package is unpacked at ``$DEVICEFARM_TEST_PACKAGE_PATH``; each phase's commands run in order in
    bash with the service's variables set; a failing ``test`` command fails the phone's test but the host
    still runs ``post_test`` and collects ``$DEVICEFARM_LOG_DIR`` into the zip (under the host's folder
    name, as the service does).
    """
    import yaml

    doc = yaml.safe_load(spec)
    assert doc["version"] == 0.1 and doc["artifacts"] == ["$DEVICEFARM_LOG_DIR"], doc
    host = {"Android": ("android_test_host", "amazon_linux_2"), "iOS": ("ios_test_host", "macos_sequoia")}[platform]
    assert doc[host[0]] == host[1], doc  # the test host the service needs for this platform
    assert set(doc["phases"]) <= {"install", "pre_test", "test", "post_test"}
    pkg, log = work / "test-package", work / "logs"
    pkg.mkdir(parents=True)
    log.mkdir()
    with zipfile.ZipFile(io.BytesIO(package)) as z:
        z.extractall(pkg)
    for f in pkg.rglob("*.sh"):
        f.chmod(0o755)
    shell_env = {**os.environ, **env, "DEVICEFARM_TEST_PACKAGE_PATH": str(pkg), "DEVICEFARM_LOG_DIR": str(log),
                 "DEVICEFARM_DEVICE_UDID": udid, "DEVICEFARM_DEVICE_PLATFORM_NAME": platform}  # fmt: skip
    ran = []
    for phase in ("install", "pre_test", "test", "post_test"):
        for command in (doc["phases"].get(phase) or {}).get("commands") or ():
            done = subprocess.run(["bash", "-c", command], env=shell_env, capture_output=True, text=True, timeout=600)
            ran.append((phase, command, done.returncode))
            if done.returncode and phase != "test":
                break
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for f in sorted(log.rglob("*")):
            if f.is_file():
                z.write(f, f"Host_Machine_Files/$DEVICEFARM_LOG_DIR/{f.relative_to(log).as_posix()}")
    return buf.getvalue(), ran
