"""AWS Device Farm as a device, end to end without AWS (see tests/fake_devicefarm for what stands in, and how strictly).

The toolkit's real boto3 client talks to botocore's Stubber, which checks every call, its order and its
parameters against the installed service model; the presigned uploads go to a local HTTP server; the
generated test spec runs on a local "test host" against the fake Android phone, whose app is the app's own
Java code. The customer artifacts the downloader reads are what that run wrote. Polling is sped up.
"""

from __future__ import annotations

import io
import json
import os
import signal
import threading
import zipfile
from pathlib import Path

import jsonschema
import pytest

from tests.fake_devicefarm import POOL_ARN, PROJECT_ARN, RUN_ARN, Farm, FarmServer, artifact, device, job, run
from toolkit._deps import HAS_EXECUTORCH, HAS_LITERT_TORCH, HAS_TFLITE_INTERPRETER
from toolkit.profile.protocol import ProfileConfig
from toolkit.results import ResultsDB

boto3 = pytest.importorskip("boto3", reason="needs boto3 (pip install 'mobilenet-toolkit[devicefarm]')")
pytest.importorskip("yaml", reason="the test host reads the YAML test spec with PyYAML")

ROOT = Path(__file__).resolve().parents[1]
SCHEMA = json.loads((ROOT / "toolkit/schemas/result.schema.json").read_text())
CONFIG = ProfileConfig(warmup=1, iterations=5)  # what the CLI lines below ask: --warmup 1 -n 5
SPEC = "devicefarm:mobilenet-bench/Pixels"
SECRETS = {
    "AWS_ACCESS_KEY_ID": "AKIAFAKEFAKEFAKE7777",
    "AWS_SECRET_ACCESS_KEY": "fake/Secret+never-SHOWN-0123456789abcd",
    "AWS_SESSION_TOKEN": "FwoGZXIvYXdzEFAKE-session-token-never-shown",
}
PHONES = [device("Google Pixel 8", "Pixel 8", n=1), device("Samsung Galaxy S24", "SM-S921B", n=2),
          device("Samsung Galaxy A54", "SM-A546B", "13", n=3)]  # fmt: skip
SERIALS = ("FAKE01", "FAKE03")  # the fake phones the test host drives: one measures, one is offline


@pytest.fixture(scope="module")
def artifacts() -> list[Path]:
    if not (HAS_LITERT_TORCH and HAS_TFLITE_INTERPRETER and HAS_EXECUTORCH):
        pytest.skip("needs the tflite and executorch exporters and runtimes")
    from tests.fake_adb.artifacts import phone_artifact

    return [phone_artifact("tflite"), phone_artifact("executorch")]


def _app(path: Path, ident: str = "org.mobilenet.toolkit.demo") -> Path:
    """An APK as the build writes it, as far as the toolkit looks: a zip whose binary manifest names the package."""
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("AndroidManifest.xml", b"\x03\x00\x08\x00" + ident.encode("utf-16-le") + b"\x00\x00")
        z.writestr("classes.dex", b"dex\n035\x00")
    return path


@pytest.fixture
def apk(tmp_path: Path) -> Path:
    return _app(tmp_path / "app-debug.apk")


@pytest.fixture
def credentials(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """Fake credentials in the environment only; no AWS config file, no instance metadata; another region."""
    for key in [k for k in os.environ if k.startswith("AWS_")]:
        monkeypatch.delenv(key)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-central-1")  # Device Farm must still be asked in us-west-2
    for key, value in SECRETS.items():
        monkeypatch.setenv(key, value)
    return SECRETS


@pytest.fixture
def farm(credentials, monkeypatch: pytest.MonkeyPatch):
    from toolkit.profile import devicefarm, devicefarm_service

    server = FarmServer()
    client = devicefarm_service.make_client()
    assert client.meta.region_name == "us-west-2"
    fake = Farm(client, server)
    monkeypatch.setattr(devicefarm_service, "make_client", lambda: client)
    monkeypatch.setattr(devicefarm, "POLL_S", 0.01)
    yield fake
    server.close()
    fake.stub.assert_no_pending_responses()


@pytest.fixture(scope="module")
def host_results(artifacts, tmp_path_factory) -> dict[str, tuple[bytes, list]]:
    """Each phone's customer artifacts: the generated spec run on a test host against a fake phone.

    FAKE01 measures both artifacts with the app's own code (its zip stands for every phone that measured:
    the phone's name comes from Device Farm's job, not from the zip); FAKE03 is offline (the phone dropped
    off its host), so its run fails at the first adb command and leaves no record.
    """
    from tests.fake_adb.device import FakePhones
    from tests.fake_devicefarm import run_on_test_host
    from toolkit.profile.devicefarm_spec import build_bundle, plan_run

    root = tmp_path_factory.mktemp("test-host")
    phones = FakePhones(root / "phones")
    phones.add("FAKE01")
    phones.add("FAKE03", state="offline")
    bundle = build_bundle("android", [plan_run("android", a, CONFIG) for a in artifacts])
    package = bundle.package_bytes()
    out = {s: run_on_test_host(package, bundle.spec, root / s, phones.env(), s) for s in SERIALS}
    out["calls"] = phones.shell_lines()
    return out


def _files(zip_bytes: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(zip_bytes)) as z:
        return {n.rsplit("/", 1)[-1]: z.read(n) for n in z.namelist() if "/mobilenet-results/" in n}


def test_the_test_spec_runs_the_adb_protocol_on_the_test_host(artifacts, host_results):
    """The spec's commands are the headless protocol of `toolkit profile --device android`, and they measure."""
    from toolkit.profile.android_protocol import headless_protocol
    from toolkit.profile.devicefarm_spec import plan_run

    for a in artifacts:
        farm_run = plan_run("android", a, CONFIG)
        steps = headless_protocol(a, farm_run.run_id, CONFIG)
        assert farm_run.script == steps.shell_script('"$DEVICEFARM_TEST_PACKAGE_PATH/bench"',
                                                     '"$DEVICEFARM_LOG_DIR/mobilenet-results"',
                                                     adb='adb -s "$DEVICEFARM_DEVICE_UDID"', poll_s=2.0)  # fmt: skip
        assert host_results["calls"].count(steps.start) == 1  # the very `am start` line (not on the offline one)
        record = json.loads(_files(host_results["FAKE01"][0])[farm_run.result_name])
        jsonschema.validate(record, SCHEMA)
        assert record["artifact"]["sha256"] == farm_run.sha256 and record["config"]["iterations"] == 5
        assert len(record["latency_ms"]) == 5 and len(record["first_output"]) == 10
    assert all(code == 0 for _, _, code in host_results["FAKE01"][1])
    offline_zip, ran = host_results["FAKE03"]
    assert ran[-1][0] == "test" and ran[-1][2] != 0  # the phone's test fails: it left no record
    assert sorted(_files(offline_zip)) == ["failed-runs.txt"]


def _jobs_and_artifacts(fake: Farm, zips: list[bytes], results: list[str] | None = None, run_arn: str = RUN_ARN):
    """list_jobs then list_artifacts per job, each phone's customer artifacts served for download."""
    jobs = [job(i, p, r) for i, (p, r) in enumerate(zip(PHONES, results or ["PASSED"] * 3, strict=True))]
    fake.add("list_jobs", {"jobs": jobs}, {"arn": run_arn})
    for i, (j, data) in enumerate(zip(jobs, zips, strict=True)):
        found = [artifact(j["arn"], "TESTSPEC_OUTPUT", "Test spec output", "txt",
                          fake.server.serve(f"/artifacts/{i}/output.txt", b"...")),
                 artifact(j["arn"], "CUSTOMER_ARTIFACT", "Customer Artifacts", "zip",
                          fake.server.serve(f"/artifacts/{i}/customer.zip", data))]  # fmt: skip
        fake.add("list_artifacts", {"artifacts": found}, {"arn": j["arn"], "type": "FILE"})
    return jobs


def _schedule(
    fake: Farm, app: Path, artifacts: list[Path], reused: list[str] | None = None
) -> tuple[list[str], object]:
    """The three uploads (new, or ``reused`` ARNs the service still has), then schedule_run with exactly them."""
    from botocore.stub import ANY

    from tests.fake_devicefarm import upload
    from toolkit.profile.devicefarm_spec import build_bundle, plan_run

    bundle = build_bundle("android", [plan_run("android", a, CONFIG) for a in artifacts])
    kinds = (("ANDROID_APP", app.name, 1), ("APPIUM_NODE_TEST_PACKAGE", "mobilenet-toolkit-bench.zip", 2),
             ("APPIUM_NODE_TEST_SPEC", "mobilenet-toolkit-bench.yml", 0))  # fmt: skip
    if reused is None:
        arns = [fake.fresh_upload(name, kind, processing=n) for kind, name, n in kinds]
    else:
        arns = reused
        for i, ((kind, name, _), arn) in enumerate(zip(kinds, arns, strict=True)):
            fake.add("get_upload", {"upload": upload(i + 1, name, kind, "SUCCEEDED")}, {"arn": arn})
    fake.add("schedule_run", {"run": run("SCHEDULING")},
             {"projectArn": PROJECT_ARN, "appArn": arns[0], "devicePoolArn": POOL_ARN, "name": ANY,
              "test": {"type": "APPIUM_NODE", "testPackageArn": arns[1], "testSpecArn": arns[2]},
              "executionConfiguration": {"jobTimeoutMinutes": bundle.estimate(3).timeout_min}})  # fmt: skip
    return arns, bundle


def _leaks(text: str | bytes) -> list[str]:
    data = text.encode() if isinstance(text, str) else text
    return [k for k, v in SECRETS.items() if v.encode() in data]


def test_profile_on_a_pool_stores_every_phone_and_a_failed_phone_as_a_failure(farm, artifacts, apk, host_results,
                                                                              tmp_path, capsys):  # fmt: skip
    from toolkit.cli import main

    farm.resolve(PHONES)  # the cost estimate, before anything is uploaded
    farm.resolve(PHONES)  # the device, in its own thread
    _, bundle = _schedule(farm, apk, artifacts)
    for state, done in (("PENDING", 0), ("RUNNING", 1), ("RUNNING", 1)):
        farm.add("get_run", {"run": run(state, done=done)}, {"arn": RUN_ARN})
    farm.add("get_run", {"run": run("COMPLETED", "FAILED", done=3)}, {"arn": RUN_ARN})
    zips = [host_results[s][0] for s in ("FAKE01", "FAKE01", "FAKE03")]
    jobs = _jobs_and_artifacts(farm, zips, ["PASSED", "PASSED", "FAILED"])
    db = tmp_path / "r.db"
    code = main(["profile", *map(str, artifacts), "--device", SPEC, "--apk", str(apk), "--yes", "--db", str(db),
                 "--warmup", "1", "-n", "5"])  # fmt: skip
    out, err = capsys.readouterr()
    flat = " ".join(err.split())
    assert code == 1, err  # one phone failed: the device is "partly failed"
    assert f"{SPEC}: 3 device(s) × 2 artifact(s) ≈" in flat and "check current pricing" in flat
    assert "MACs at 10 GMAC/s" in flat and "execution timeout per device" in flat
    assert f"{SPEC}: partly failed, 4 measured, 2 failed" in flat
    for a in artifacts:
        assert f"{a.name}: no result on Samsung Galaxy A54: job FAILED" in flat
    assert "(log: https://us-west-2.console.aws.amazon.com/devicefarm/" in flat and "/jobs/00002)" in flat
    # exactly the bytes were uploaded: the app, the test package, the test spec
    received = list(farm.server.received.values())
    assert received == [apk.read_bytes(), bundle.package_bytes(), bundle.spec.encode()]
    with ResultsDB(db) as store:
        records = store.records()
        (row,) = store.jobs("devicefarm")
        assert (row["job_id"], row["state"], row["device"]) == (RUN_ARN, "stored", "mobilenet-bench/Pixels")
    assert len(records) == 4 and {r["device"]["name"] for r in records} == {"Google Pixel 8", "Samsung Galaxy S24"}
    for rec in records:
        jsonschema.validate(rec, SCHEMA)
        assert rec["device"]["service"] == "devicefarm" and rec["device"]["kind"] == "android"
        assert rec["job"]["id"] in (jobs[0]["arn"], jobs[1]["arn"]) and rec["job"]["url"].startswith(
            "https://us-west-2"
        )
    # the credentials went nowhere: not printed, not in the DB, not in what was uploaded
    assert not _leaks(out + err) and not _leaks(db.read_bytes()) and not any(_leaks(b) for b in received)
    for side in db.parent.glob("r.db*"):
        assert not _leaks(side.read_bytes())


def test_a_timeout_keeps_the_partial_results_and_a_stopped_run_fails_each_artifact(farm, artifacts, apk,
                                                                                  host_results, tmp_path):  # fmt: skip
    from toolkit.profile.devicefarm import DeviceFarmDevice
    from toolkit.profile.devicefarm_request import FarmRequest
    from toolkit.profile.devicefarm_spec import plan_run

    first = plan_run("android", artifacts[0], CONFIG)
    full = host_results["FAKE01"][0]
    partial = io.BytesIO()  # the service stopped the phone after the first artifact: partial results
    with zipfile.ZipFile(io.BytesIO(full)) as src, zipfile.ZipFile(partial, "w") as dst:
        for name in src.namelist():
            if not name.endswith(plan_run("android", artifacts[1], CONFIG).result_name):
                dst.writestr(name, src.read(name))
    request = FarmRequest(apk, approve=lambda spec, estimate: estimate.minutes < 60)
    with ResultsDB(tmp_path / "r.db") as db:
        device = DeviceFarmDevice("mobilenet-bench/Pixels", request=request, client=farm.client, store=db, poll_s=0.01)
        farm.resolve(PHONES)
        arns, _ = _schedule(farm, apk, artifacts)
        farm.add("get_run", {"run": run("COMPLETED", "STOPPED", done=3)}, {"arn": RUN_ARN})
        # the third phone's customer artifacts come back damaged: its artifacts fail, the other phones' are kept
        _jobs_and_artifacts(farm, [full, partial.getvalue(), b"<Error>"], ["PASSED", "STOPPED", "PASSED"])
        out = device.run_batch(artifacts, CONFIG)
        assert len(out.results) == 3 and out.error is None and len(out.failures) == 3
        assert out.failures[0].startswith(f"{artifacts[1].name}: no result on Samsung Galaxy S24: job STOPPED: ")
        assert "10-minute execution timeout" in out.failures[0] and "(log: https://" in out.failures[0]
        assert out.failures[1:] == [f"{a.name}: the customer artifacts of Samsung Galaxy A54 could not be read "
                                    "(BadZipFile); re-run to fetch them again" for a in artifacts]  # fmt: skip
        assert sum(r["artifact"]["sha256"] == first.sha256 for r in out.results) == 2

        # A run the service stopped before any phone ran: every artifact fails with the run's reason and page.
        _schedule(farm, apk, artifacts, reused=arns)  # the uploads are still there: reused, not sent again
        why = "The run was stopped: the devices in the pool are not available"
        farm.add("get_run", {"run": run("COMPLETED", "STOPPED", message=why)}, {"arn": RUN_ARN})
        farm.add("list_jobs", {"jobs": []}, {"arn": RUN_ARN})
        out = device.run_batch(artifacts, CONFIG)
        assert out.results == [] and len(out.failures) == 2 and len(farm.server.received) == 3
        assert all(f"run STOPPED: {why} (log: https://us-west-2.console.aws.amazon.com/" in f for f in out.failures)
        (row,) = db.jobs("devicefarm")
        assert row["state"] == "failed" and why in row["message"]


def test_ctrl_c_while_the_run_goes_then_the_rerun_collects_it(farm, artifacts, apk, host_results, tmp_path, capsys,
                                                              monkeypatch):  # fmt: skip
    from toolkit.cli import main
    from toolkit.profile import devicefarm

    monkeypatch.setattr(devicefarm, "POLL_S", 30.0)  # the Ctrl-C lands while the device waits between polls
    farm.resolve(PHONES)
    farm.resolve(PHONES)
    _schedule(farm, apk, artifacts)
    farm.add("get_run", {"run": run("RUNNING", done=0)}, {"arn": RUN_ARN})
    interrupt = lambda **kw: threading.Timer(0.05, os.kill, (os.getpid(), signal.SIGINT)).start()  # noqa: E731
    farm.client.meta.events.register("after-call.devicefarm.GetRun", interrupt)
    db = tmp_path / "r.db"
    args = ["profile", *map(str, artifacts), "--device", SPEC, "--apk", str(apk), "--yes", "--db", str(db),
            "--warmup", "1", "-n", "5"]  # fmt: skip
    assert main(args) == 130
    farm.client.meta.events.unregister("after-call.devicefarm.GetRun", interrupt)
    err = " ".join(capsys.readouterr().err.split())
    assert f"jobs still running on the service: {RUN_ARN} (devicefarm: mobilenet-bench/Pixels)" in err
    assert "re-run the same command" in err
    farm.resolve(PHONES)
    farm.resolve(PHONES)
    farm.add("get_run", {"run": run("COMPLETED", "PASSED", done=3)}, {"arn": RUN_ARN})
    _jobs_and_artifacts(farm, [host_results["FAKE01"][0]] * 3)
    assert main(args) == 0  # no upload, no schedule_run: the Stubber would refuse an unexpected call
    assert f"resumed run {RUN_ARN}" in " ".join(capsys.readouterr().err.split())
    with ResultsDB(db) as store:
        assert store.count() == 6 and store.jobs()[0]["state"] == "stored"


def test_uploads_are_reused_by_content_and_made_again_when_gone(farm, apk, tmp_path):
    from tests.fake_devicefarm import upload as upload_shape
    from toolkit.profile.devicefarm_service import DeviceFarmError, upload

    with ResultsDB(tmp_path / "r.db") as db:
        arn = farm.fresh_upload(apk.name, "ANDROID_APP")
        assert upload(farm.client, db, PROJECT_ARN, apk, "ANDROID_APP", poll_s=0) == arn
        farm.add("get_upload", {"upload": upload_shape(1, apk.name, "ANDROID_APP", "SUCCEEDED")}, {"arn": arn})
        assert upload(farm.client, db, PROJECT_ARN, apk, "ANDROID_APP", poll_s=0) == arn  # one call, no PUT
        farm.error("get_upload", "NotFoundException", "No upload was found")
        again = farm.fresh_upload(apk.name, "ANDROID_APP")
        assert upload(farm.client, db, PROJECT_ARN, apk, "ANDROID_APP", poll_s=0) == again != arn
        farm.error("create_upload", "ArgumentException", "Invalid upload type")  # another type: its own upload
        with pytest.raises(DeviceFarmError, match=r"could not create an upload for app-debug\.apk: Invalid upload"):
            upload(farm.client, db, PROJECT_ARN, apk, "IOS_APP", poll_s=0)
        farm.add("get_upload", {"upload": upload_shape(2, apk.name, "ANDROID_APP", "SUCCEEDED")}, {"arn": again})
        assert upload(farm.client, db, PROJECT_ARN, apk, "ANDROID_APP", poll_s=0) == again
        assert len(farm.server.received) == 2


def test_an_upload_the_service_rejects_is_one_line(farm, apk, tmp_path):
    from toolkit.profile.devicefarm_service import DeviceFarmError, upload

    farm._uploads += 1
    path = farm.put_path(farm._uploads, apk.name)
    from tests.fake_devicefarm import upload as shape

    made = shape(farm._uploads, apk.name, "ANDROID_APP", "INITIALIZED", farm.server.presigned(path))
    farm.add("create_upload", {"upload": made}, None)
    why = "We could not extract information about your Android application. Please verify it and try again."
    farm.add("get_upload", {"upload": {**made, "status": "FAILED", "metadata": why}}, {"arn": made["arn"]})
    with pytest.raises(DeviceFarmError, match=f"Device Farm rejected app-debug.apk \\(ANDROID_APP\\): {why}"):
        upload(farm.client, None, PROJECT_ARN, apk, "ANDROID_APP", poll_s=0)


# ---- bad input: one line each -------------------------------------------------------------------------------------


def _main(args: list[str], capsys) -> tuple[int, str]:
    from toolkit.cli import main

    code = main(args)
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return code, " ".join(err.split())


def test_no_credentials_is_one_line(credentials, artifacts, apk, monkeypatch, tmp_path, capsys):
    for key in SECRETS:
        monkeypatch.delenv(key)
    code, err = _main(["profile", str(artifacts[0]), "-d", SPEC, "--apk", str(apk), "--yes", "--db",
                       str(tmp_path / "r.db")], capsys)  # fmt: skip
    assert code == 1 and "no AWS credentials to list its projects: configure AWS credentials the usual way" in err


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        ("expired", "AWS refused the credentials (the session token has expired): configure AWS credentials"),
        ("denied", "AWS denied the permission to list its projects: User: arn:aws:iam::123456789012:user/ci is not "
                   "authorized to perform: devicefarm:ListProjects (docs/devices.md lists"),
        ("project", "Device Farm has no project 'mobilenet-bnch'; closest: mobilenet-bench"),
        ("pool", "Device Farm has no device pool 'Pixel' in project mobilenet-bench; closest: Pixels"),
        ("ios pool", "device pool Pixels holds ios phones, but the app is for android"),
        ("no --yes", "Device Farm bills device minutes: re-run with --yes to schedule"),
    ],
)  # fmt: skip
def test_bad_input_is_one_line(farm, artifacts, apk, tmp_path, capsys, case, expected):
    spec, extra = SPEC, ["--yes"]
    if case == "expired":
        farm.error("list_projects", "ExpiredTokenException", "The security token included in the request is expired")
    elif case == "denied":
        farm.error("list_projects", "AccessDeniedException", "User: arn:aws:iam::123456789012:user/ci is not "
                   "authorized to perform: devicefarm:ListProjects")  # fmt: skip
    elif case == "project":
        spec = "devicefarm:mobilenet-bnch/Pixels"
        farm.add("list_projects", {"projects": [{"arn": PROJECT_ARN, "name": "mobilenet-bench"}]}, {})
    elif case == "pool":
        spec = "devicefarm:mobilenet-bench/Pixel"
        farm.add("list_projects", {"projects": [{"arn": PROJECT_ARN, "name": "mobilenet-bench"}]}, {})
        farm.add("list_device_pools", {"devicePools": [{"arn": POOL_ARN, "name": "Pixels"},
                                                       {"arn": POOL_ARN[:-4] + "0001", "name": "Top Devices"}]},
                 {"arn": PROJECT_ARN})  # fmt: skip
    elif case == "ios pool":
        farm.resolve([device("Apple iPhone 15", "iPhone 15", "17.4", platform="IOS")])
    else:
        farm.resolve(PHONES)
        extra = []
    code, err = _main(["profile", str(artifacts[0]), "-d", spec, "--apk", str(apk), *extra, "--db",
                       str(tmp_path / "r.db")], capsys)  # fmt: skip
    assert code in (1, 2) and expected in err, err
    assert not _leaks(err) and not farm.server.received  # nothing was uploaded


def test_the_app_and_artifacts_are_checked_before_anything_is_uploaded(farm, artifacts, apk, tmp_path, capsys):
    db = ["--db", str(tmp_path / "r.db")]
    code, err = _main(["profile", str(artifacts[0]), "-d", SPEC, "--yes", *db], capsys)
    assert code == 2 and "devicefarm devices need the demo app: pass --apk app-debug.apk or --ipa" in err
    other = _app(tmp_path / "other.apk", "com.example.other")
    code, err = _main(["profile", str(artifacts[0]), "-d", SPEC, "--apk", str(other), "--yes", *db], capsys)
    assert code == 2 and "other.apk is not the toolkit's demo app (no org.mobilenet.toolkit.demo in it)" in err
    code, err = _main(["profile", str(artifacts[0]), "-d", "host", "--apk", str(apk), *db], capsys)
    assert code == 2 and "--apk/--ipa name the app for devicefarm:PROJECT/POOL devices" in err
    onnx = tmp_path / "m.onnx"
    onnx.write_bytes(b"onnx")
    (tmp_path / "m.onnx.manifest.json").write_text(json.dumps({"target": "onnx", "artifact": {"sha256": "0" * 64}}))
    farm.resolve(PHONES)
    farm.resolve(PHONES)
    code, err = _main(["profile", str(onnx), "-d", SPEC, "--apk", str(apk), "--yes", *db], capsys)
    assert code == 1 and "nothing to run (none of the artifacts runs in the android app)" in err
    assert "m.onnx: m.onnx cannot run in the android demo app on Device Farm: it runs .pte and .tflite" in err
    assert not farm.server.received


def _artifacts_model(tmp_path: Path) -> Path:
    """The artifacts' own model as a checkpoint: the sweep then builds exactly what they were exported from,
    so the export pipeline's cache key matches and it reuses them (anything else it would export again)."""
    from toolkit import mobilenet_v1
    from toolkit.weights import CheckpointMeta, save_checkpoint

    model = mobilenet_v1(0.25, 32, weights="random", num_classes=10)
    meta = CheckpointMeta(alpha=0.25, resolution=32, num_classes=10, class_names=tuple(model.class_names),
                          preprocessing=model.preprocessing)  # fmt: skip
    return save_checkpoint(model.state_dict(), meta, tmp_path / "artifacts-model.safetensors")


def test_a_sweep_on_a_pool_then_the_rerun_finds_everything_stored(farm, artifacts, apk, host_results, tmp_path,
                                                                  capsys):  # fmt: skip
    from toolkit.cli import main

    for _ in range(3):  # the estimate, the sweep's device check, the device's thread
        farm.resolve(PHONES)
    _schedule(farm, apk, artifacts)
    farm.add("get_run", {"run": run("COMPLETED", "PASSED", done=3)}, {"arn": RUN_ARN})
    _jobs_and_artifacts(farm, [host_results["FAKE01"][0]] * 3)
    db = tmp_path / "r.db"
    args = ["sweep", "--alphas", "0.25", "--resolutions", "32", "--targets", "tflite,executorch", "-o",
            str(artifacts[0].parent), "-d", SPEC, "--apk", str(apk), "--yes", "--db", str(db), "--warmup", "1",
            "-n", "5", "--report-dir", str(tmp_path / "reports"), "--no-verify",
            "--weights", str(_artifacts_model(tmp_path))]  # fmt: skip
    assert main(args) == 0, capsys.readouterr().err
    assert "6 measured" in " ".join(capsys.readouterr().out.split())
    reports = list((tmp_path / "reports").rglob("*.*"))
    assert reports and not any(_leaks(f.read_bytes()) for f in reports)  # the credentials are in no report
    assert "Samsung Galaxy S24 (via devicefarm)" in (tmp_path / "reports/report.md").read_text()
    for _ in range(3):
        farm.resolve(PHONES)
    assert main(args) == 0  # nothing scheduled: every combination is stored for this pool
    assert "0 measured, 2 already in the DB" in " ".join(capsys.readouterr().out.split())


# ---- iOS: the app's own launch protocol over devicectl on the test host ------------------------------------------


def _ipa(path: Path, bundle_id: str = "org.mobilenet-toolkit.BenchApp") -> Path:
    """An .ipa as Xcode exports it, as far as the toolkit looks: Payload/<App>.app/Info.plist with the bundle id."""
    import plistlib

    with zipfile.ZipFile(path, "w") as z:
        info = {"CFBundleIdentifier": bundle_id, "CFBundleExecutable": "BenchApp", "MinimumOSVersion": "16.0"}
        z.writestr("Payload/BenchApp.app/Info.plist", plistlib.dumps(info))
        z.writestr("Payload/BenchApp.app/BenchApp", b"\xcf\xfa\xed\xfe")
    return path


def _coreml_needing_ios18(folder: Path) -> Path:
    """A Core ML package with the exporter's real manifest, edited to need iOS 18 (the app refuses it on 17)."""
    from toolkit.export.manifest import tree_sha256

    manifest = json.loads((ROOT / "ios_demo/BenchCore/Tests/BenchCoreTests/Resources/manifest_coreml.json").read_text())
    manifest["options"]["minimum_deployment_target"] = manifest["backend"]["minimum_deployment_target"] = "iOS18"
    pkg = folder / manifest["artifact"]["file"]
    (pkg / "Data").mkdir(parents=True)
    (pkg / "Manifest.json").write_text("{}")
    manifest["artifact"]["sha256"] = tree_sha256(pkg)
    (folder / f"{pkg.name}.manifest.json").write_text(json.dumps(manifest))
    return pkg


def test_an_ios_pool_runs_the_apps_launch_protocol_and_keeps_its_refusal(farm, artifacts, tmp_path):
    import shlex

    from botocore.stub import ANY

    from tests.fake_devicefarm import FakeIPhones, run_on_test_host
    from toolkit.profile.devicefarm import DeviceFarmDevice
    from toolkit.profile.devicefarm_request import FarmRequest
    from toolkit.profile.devicefarm_spec import build_bundle, plan_run
    from toolkit.profile.ios import benchmark_arguments

    ipa, udid = _ipa(tmp_path / "BenchApp.ipa"), "00008130-000A1B2C3D4E5F60"
    pte, coreml = artifacts[1], _coreml_needing_ios18(tmp_path)
    bundle = build_bundle("ios", [plan_run("ios", a, CONFIG) for a in (pte, coreml)])
    for r in bundle.runs:  # the launch line is the app's own arguments, as IOSDevice sends them
        assert shlex.join(benchmark_arguments(r.artifact.name, "all", CONFIG, r.run_id)) in r.script
    iphones = FakeIPhones(tmp_path / "iphones")
    iphones.add(udid, ios_version="17.5.1")
    customer, ran = run_on_test_host(bundle.package_bytes(), bundle.spec, tmp_path / "host", iphones.env(), udid, "iOS")
    assert [code for phase, _, code in ran if phase == "test"] == [0, 0, 1]  # the Core ML run left no record

    phone = device("Apple iPhone 15 Pro", "iPhone 15 Pro", "17.5.1", platform="IOS")
    farm.resolve([phone])
    arns = [farm.fresh_upload(ipa.name, "IOS_APP"),
            farm.fresh_upload("mobilenet-toolkit-bench.zip", "APPIUM_NODE_TEST_PACKAGE"),
            farm.fresh_upload("mobilenet-toolkit-bench.yml", "APPIUM_NODE_TEST_SPEC")]  # fmt: skip
    farm.add("schedule_run", {"run": run("SCHEDULING", total=1, platform="IOS")},
             {"projectArn": PROJECT_ARN, "appArn": arns[0], "devicePoolArn": POOL_ARN, "name": ANY,
              "test": {"type": "APPIUM_NODE", "testPackageArn": arns[1], "testSpecArn": arns[2]},
              "executionConfiguration": {"jobTimeoutMinutes": bundle.estimate(1).timeout_min}})  # fmt: skip
    farm.add("get_run", {"run": run("COMPLETED", "FAILED", done=1, total=1, platform="IOS")}, {"arn": RUN_ARN})
    (j,) = [job(0, phone, "FAILED")]
    farm.add("list_jobs", {"jobs": [j]}, {"arn": RUN_ARN})
    url = farm.server.serve("/artifacts/ios/customer.zip", customer)
    found = [artifact(j["arn"], "CUSTOMER_ARTIFACT", "Customer Artifacts", "zip", url)]
    farm.add("list_artifacts", {"artifacts": found}, {"arn": j["arn"], "type": "FILE"})
    request = FarmRequest(ipa, approve=lambda spec, estimate: True)
    device_ = DeviceFarmDevice("mobilenet-bench/Pixels", request=request, client=farm.client, poll_s=0.01)
    assert device_.describe()["kind"] == "ios"
    out = device_.run_batch([pte, coreml], CONFIG)
    (rec,) = out.results
    jsonschema.validate(rec, SCHEMA)
    assert (rec["device"]["kind"], rec["device"]["name"], rec["runtime"]["name"]) == (
        "ios",
        phone["name"],
        "executorch",
    )
    assert rec["artifact"]["sha256"] == bundle.runs[0].sha256 and len(rec["latency_ms"]) == 5
    (failure,) = out.failures
    assert failure.startswith(f"{coreml.name}: the app refused it on Apple iPhone 15 Pro: ") and "iOS 18" in failure
    assert farm.server.received[farm.put_path(1, ipa.name)] == ipa.read_bytes()


def test_nothing_is_scheduled_beyond_what_the_user_approved(farm, artifacts, apk, tmp_path):
    from toolkit.errors import ToolkitError
    from toolkit.profile.devicefarm_approve import approve_runs
    from toolkit.profile.devicefarm_request import current_request
    from toolkit.profile.devices import get_device

    lines: list[str] = []
    asked: list[str] = []

    def approve(answer: bool):
        farm.resolve(PHONES)
        return approve_runs([SPEC, "host"], apk=apk, ipa=None, config=CONFIG, planned=artifacts[:1], yes=False,
                            interactive=True, ask=lambda q: asked.append(q) or answer, echo=lines.append)  # fmt: skip

    with pytest.raises(ToolkitError, match="not scheduled: nothing was uploaded to Device Farm"):
        approve(False)
    assert asked == ["Schedule on AWS Device Farm?"] and lines[0].startswith(f"{SPEC}: 3 device(s) × 1 artifact(s) ≈")
    with approve(True), ResultsDB(tmp_path / "r.db") as db:
        farm.resolve(PHONES)
        device = get_device(SPEC, store=db)  # the fan-out's way: the request comes from the context
        device.poll_s = 0.01
        out = device.run_batch(artifacts, CONFIG)  # two artifacts where one was approved
        assert out.results == [] and "was not approved" in out.error and "2 artifact(s)" in out.error
        assert db.jobs() == [] and not farm.server.received
    assert current_request() is None


def test_the_spec_names_a_project_and_a_pool():
    from toolkit.errors import UsageError
    from toolkit.profile.devicefarm_request import split_spec
    from toolkit.profile.devices import get_device

    assert split_spec(" my app / Top Devices ") == ("my app", "Top Devices")
    assert split_spec(f"mobilenet-bench/{POOL_ARN}") == ("mobilenet-bench", POOL_ARN)  # a pool ARN holds a '/'
    for bad in ("devicefarm:mobilenet-bench", "devicefarm:/Pixels", "devicefarm:mobilenet-bench/"):
        with pytest.raises(UsageError, match="devicefarm needs PROJECT/POOL"):
            get_device(bad)
