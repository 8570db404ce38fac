"""AWS Device Farm through boto3: the client, its errors as one line, names to ARNs, uploads reused by content.

Written against boto3 1.40 / botocore 1.40 (the ``devicefarm`` 2015-06-23 service model). What this relies on:

- Credentials come only from the AWS credential chain (environment, ``~/.aws``, SSO, instance roles),
  resolved by botocore when a request is signed. The toolkit never reads, stores or prints them; every
  message it shows is also scrubbed of the values the chain holds, in case a service message echoes one.
- Device Farm lives in ``us-west-2`` only, so the client is always made for that region, whatever the
  user's default region is.
- An upload is ``create_upload`` (the service returns a presigned S3 URL), an HTTP PUT of the bytes to that
  URL with the declared content type, then ``get_upload`` until its status is ``SUCCEEDED`` (Device Farm
  checks the file) or ``FAILED`` (its ``metadata`` / ``message`` say why).
"""

from __future__ import annotations

import contextlib
import difflib
import hashlib
import re
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from toolkit.errors import MissingDependencyError, ToolkitError, UsageError
from toolkit.profile.protocol import DeviceError, DeviceGoneError

__all__ = [
    "CONTENT_TYPE",
    "REGION",
    "SERVICE",
    "DeviceFarmError",
    "DeviceFarmServiceError",
    "StoppedError",
    "console_url",
    "find_pool",
    "find_project",
    "make_client",
    "pool_devices",
    "redact",
    "service_errors",
    "upload",
]

SERVICE = "devicefarm"
REGION = "us-west-2"  # the only region Device Farm runs in
CONTENT_TYPE = "application/octet-stream"  # declared at create_upload; the presigned PUT must send the same
_CONFIGURE = ("configure AWS credentials the usual way (`aws configure`, `aws sso login`, AWS_PROFILE or the "
              "AWS_* environment variables)")  # fmt: skip
_UPLOADS = threading.Lock()  # one upload per content even when several pools want it at once


class DeviceFarmError(DeviceError, ToolkitError):
    """One artifact, device or run went wrong (refused, failed on a phone); the others go on."""


class DeviceFarmServiceError(DeviceFarmError, DeviceGoneError):
    """The service is out of reach (no or refused credentials, no network, no permission): stop, keep what landed."""


class StoppedError(Exception):
    """The caller asked to stop (Ctrl-C): leave what runs on the service running, a re-run collects it."""


def make_client() -> Any:
    """A Device Farm client on the user's own AWS credential chain, in us-west-2."""
    try:
        import boto3
    except ImportError:
        raise MissingDependencyError.for_extra("boto3 (AWS Device Farm)", "devicefarm") from None
    # A new session each time: boto3's default session keeps the credentials it first found for the process.
    return boto3.session.Session().client("devicefarm", region_name=REGION)


def _secrets(client: Any) -> list[str]:
    """The credential values the client would sign with, to scrub from any text (never shown or kept)."""
    try:
        creds = client._request_signer._credentials  # botocore's resolved (refreshable) credentials
        frozen = creds.get_frozen_credentials() if creds is not None else None
    except Exception:  # unresolvable credentials: nothing to scrub, the error says so itself
        return []
    return [v for v in (frozen.access_key, frozen.secret_key, frozen.token) if v] if frozen else []


def redact(text: str, client: Any = None) -> str:
    """``text`` on one line with any credential value of ``client`` and any AWS access key id replaced."""
    for secret in _secrets(client) if client is not None else ():
        text = text.replace(secret, "***")
    text = re.sub(r"\b(?:AKIA|ASIA)[A-Z0-9]{12,}\b", "***", text)
    return re.sub(r"\s+", " ", text).strip()


@contextlib.contextmanager
def service_errors(what: str, client: Any = None) -> Iterator[None]:
    """botocore's exceptions as one line naming the fix; never a traceback, never a credential."""
    from botocore.exceptions import (
        BotoCoreError,
        ClientError,
        ConnectionError,
        CredentialRetrievalError,
        NoCredentialsError,
        PartialCredentialsError,
        TokenRetrievalError,
    )

    try:
        yield
    except (NoCredentialsError, PartialCredentialsError):
        raise DeviceFarmServiceError(f"no AWS credentials to {what}: {_CONFIGURE}") from None
    except (CredentialRetrievalError, TokenRetrievalError):
        raise DeviceFarmServiceError(f"the AWS credentials could not be loaded to {what} (an SSO session or "
                                     f"credential process failed): {_CONFIGURE}") from None  # fmt: skip
    except ClientError as e:
        err = e.response.get("Error", {})
        code, message = err.get("Code", "?"), redact(err.get("Message", ""), client)
        if code in ("ExpiredTokenException", "ExpiredToken", "RequestExpired"):
            raise DeviceFarmServiceError(f"AWS refused the credentials (the session token has expired): "
                                         f"{_CONFIGURE}") from None  # fmt: skip
        if code in ("UnrecognizedClientException", "InvalidClientTokenId", "InvalidSignatureException",
                    "SignatureDoesNotMatch", "IncompleteSignature"):  # fmt: skip
            raise DeviceFarmServiceError(f"AWS refused the credentials (unknown key or wrong secret): "
                                         f"{_CONFIGURE}") from None  # fmt: skip
        if code in ("AccessDeniedException", "AccessDenied", "NotAuthorized"):
            raise DeviceFarmServiceError(f"AWS denied the permission to {what}: {message} (docs/devices.md lists "
                                         "the devicefarm:* actions the toolkit needs)") from None  # fmt: skip
        if code in ("ServiceAccountException", "LimitExceededException", "ThrottlingException"):
            raise DeviceFarmServiceError(f"Device Farm could not {what}: {message or code}") from None
        raise DeviceFarmError(f"Device Farm could not {what}: {message or code}") from None
    except ConnectionError as e:
        raise DeviceFarmServiceError(f"cannot reach AWS Device Farm ({REGION}) to {what}: "
                                     f"{redact(str(e), client)}") from None  # fmt: skip
    except BotoCoreError as e:
        raise DeviceFarmServiceError(f"Device Farm could not {what}: {redact(str(e), client)}") from None


def console_url(arn: str) -> str:
    """The Device Farm console page of a run or job ARN (it needs the user's own login)."""
    fields = arn.split(":", 6)  # arn:aws:devicefarm:REGION:ACCOUNT:KIND:IDS
    kind, ids = (fields[5], fields[6]) if len(fields) == 7 else ("", "")
    base = f"https://{REGION}.console.aws.amazon.com/devicefarm/home?region={REGION}#/mobile/projects/"
    parts = ids.split("/")
    if kind == "run" and len(parts) == 2:
        return f"{base}{parts[0]}/runs/{parts[1]}"
    if kind == "job" and len(parts) == 3:
        return f"{base}{parts[0]}/runs/{parts[1]}/jobs/{parts[2]}"
    return base


def _pages(client: Any, operation: str, key: str, what: str, **params: Any) -> list[dict[str, Any]]:
    with service_errors(what, client):
        return [item for page in client.get_paginator(operation).paginate(**params) for item in page.get(key, [])]


def _pick(items: list[dict[str, Any]], ref: str, what: str, where: str) -> dict[str, Any]:
    """The item named (or with the ARN) ``ref``; an unknown name lists the closest ones offered."""
    same = [i for i in items if ref in (i.get("arn"), i.get("name"))]
    same = same or [i for i in items if str(i.get("name", "")).lower() == ref.lower()]
    if len(same) == 1:
        return same[0]
    names = sorted({str(i.get("name")) for i in items})
    if same:
        raise UsageError(f"{len(same)} {what}s are called {ref!r}{where}: pass the ARN of one instead")
    close = difflib.get_close_matches(ref, names, n=5, cutoff=0.3)
    close += [n for n in names if ref.lower() in n.lower() and n not in close][: 5 - len(close)]
    hint = f"closest: {', '.join(close)}" if close else (f"it has: {', '.join(names[:10])}" if names else "none exist")
    raise UsageError(f"Device Farm has no {what} {ref!r}{where}; {hint}")


def find_project(client: Any, ref: str) -> dict[str, Any]:
    """The project named ``ref`` (or with that ARN)."""
    return _pick(_pages(client, "list_projects", "projects", "list its projects"), ref, "project", "")


def find_pool(client: Any, project: dict[str, Any], ref: str) -> dict[str, Any]:
    """The device pool named ``ref`` (or with that ARN) in ``project``: the user's own or a curated one."""
    pools = _pages(client, "list_device_pools", "devicePools", f"list the device pools of {project['name']}",
                   arn=project["arn"])  # fmt: skip
    return _pick(pools, ref, "device pool", f" in project {project['name']}")


def pool_devices(client: Any, pool: dict[str, Any], test_type: str) -> list[dict[str, Any]]:
    """The devices of ``pool`` that can run a ``test_type`` test (at most the pool's ``maxDevices``)."""
    with service_errors(f"list the devices of pool {pool['name']}", client):
        found = client.get_device_pool_compatibility(devicePoolArn=pool["arn"], testType=test_type)
    devices = [r["device"] for r in found.get("compatibleDevices", []) if r.get("compatible", True)]
    return devices[: pool["maxDevices"]] if pool.get("maxDevices") else devices


def _put(url: str, path: Path, what: str) -> None:
    """The bytes to the presigned URL (the signature covers the content type declared at create_upload)."""
    size = path.stat().st_size
    with path.open("rb") as body:
        headers = {"Content-Type": CONTENT_TYPE, "Content-Length": str(size)}
        request = urllib.request.Request(url, data=body, method="PUT", headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=600) as response:
                response.read()
        except urllib.error.HTTPError as e:
            raise DeviceFarmError(f"uploading {what} was refused by storage (HTTP {e.code}): try again") from None
        except (urllib.error.URLError, OSError) as e:
            reason = getattr(e, "reason", e)
            raise DeviceFarmServiceError(f"uploading {what} failed: {reason}") from None


def upload(
    client: Any,
    store: Any,
    project_arn: str,
    path: Path,
    upload_type: str,
    *,
    progress: Callable[[str], None] = lambda state: None,
    stop: threading.Event | None = None,
    poll_s: float = 2.0,
) -> str:
    """The ARN of a processed upload of ``path``: the one already made for these bytes, else a new one.

    Uploads are per project and per type, so the reuse key (kept in the results DB's service_models table)
    is the file's sha256 with both. An upload the service failed or no longer has is made again.
    """
    from toolkit.weights import file_sha256

    sha = file_sha256(path)
    key = hashlib.sha256(f"{project_arn}\n{upload_type}\n{sha}".encode()).hexdigest()
    with _UPLOADS:
        cached = store.cached_model(SERVICE, key) if store is not None else None
        if cached is not None:
            try:
                with service_errors(f"find upload {cached}", client):
                    if client.get_upload(arn=cached)["upload"]["status"] == "SUCCEEDED":
                        progress(f"reused upload {cached}")
                        return cached
            except DeviceFarmServiceError:
                raise
            except DeviceFarmError:
                pass  # deleted on the service: upload again
        progress("uploading")
        with service_errors(f"create an upload for {path.name}", client):
            made = client.create_upload(projectArn=project_arn, name=path.name, type=upload_type,
                                        contentType=CONTENT_TYPE)["upload"]  # fmt: skip
        _put(made["url"], path, path.name)
        arn = made["arn"]
        while True:
            with service_errors(f"check upload {path.name}", client):
                status = client.get_upload(arn=arn)["upload"]
            if status["status"] == "SUCCEEDED":
                break
            if status["status"] == "FAILED":
                why = redact(status.get("message") or status.get("metadata") or "no reason given", client)
                raise DeviceFarmError(f"Device Farm rejected {path.name} ({upload_type}): {why}")
            if stop is not None and stop.wait(poll_s):
                raise StoppedError
            if stop is None:
                time.sleep(poll_s)
        if store is not None:
            store.cache_model(SERVICE, key, arn)
        progress(f"uploaded {arn}")
        return arn
