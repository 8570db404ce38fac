"""Qualcomm AI Hub as a device, end to end through the installed qai-hub client and a fake service.

The fake (tests/fake_aihub) replaces only qai-hub's REST functions, so the client's own Client, Device,
InferenceJob, JobStatus, profile dict and error mapping run for real; see its docstring for how strict
it is. Polling is sped up from AI Hub's 10 s to 10 ms.
"""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import threading
from pathlib import Path

import pytest

# The fake service imports the real client's modules: without the optional extra, skip before importing it.
pytest.importorskip("qai_hub", reason="needs qai-hub (pip install 'mobilenet-toolkit[aihub]')")

from tests.fake_aihub import FakeHub
from toolkit._deps import HAS_AI_EDGE_LITERT, HAS_LITERT_TORCH, HAS_ONNXRUNTIME, HAS_QAI_HUB
from toolkit.errors import UsageError
from toolkit.profile.protocol import ProfileConfig
from toolkit.profile.stats import summarize
from toolkit.results import ResultsDB

pytestmark = pytest.mark.skipif(not HAS_QAI_HUB, reason="needs qai-hub (pip install 'mobilenet-toolkit[aihub]')")
S24, PIXEL = "Samsung Galaxy S24", "Google Pixel 8"
SCHEMA = json.loads((Path(__file__).resolve().parents[1] / "toolkit/schemas/result.schema.json").read_text())


@pytest.fixture(scope="module")
def tflite() -> Path:
    if not (HAS_LITERT_TORCH and HAS_AI_EDGE_LITERT):
        pytest.skip("needs litert-torch and ai-edge-litert (pip install 'mobilenet-toolkit[tflite]')")
    from tests.fake_adb.artifacts import tiny_artifact

    return tiny_artifact("tflite")


@pytest.fixture(scope="module")
def onnx() -> Path:
    if not HAS_ONNXRUNTIME:
        pytest.skip("needs onnx + onnxruntime (pip install 'mobilenet-toolkit[onnx]')")
    from tests.fake_adb.artifacts import tiny_artifact

    return tiny_artifact("onnx")


@pytest.fixture
def hub(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> FakeHub:
    from toolkit.profile import aihub

    monkeypatch.setattr(aihub, "POLL_S", 0.01)
    return FakeHub(tmp_path / "hub").install(monkeypatch)


def _device(name: str, db: ResultsDB | None = None, **kw):
    from toolkit.profile.aihub import AIHubDevice

    return AIHubDevice(name, store=db, poll_s=0.01, **kw)


def test_profile_job_becomes_a_record_from_every_inference_time(hub, tflite, tmp_path):
    import jsonschema

    hub.times_us[S24] = times = [1500 + (i * 37) % 90 for i in range(20)]
    states: list[str] = []
    with ResultsDB(tmp_path / "r.db") as db:
        device = _device(S24, db, progress=lambda label, state: states.append(state))
        rec = device.run(tflite, ProfileConfig(iterations=20))
        db.insert(rec)
        jsonschema.validate(rec, SCHEMA)
        assert rec["latency_ms"] == [t / 1000 for t in times] and rec["latency_source"] == "service_samples"
        assert rec["stats"] == summarize(rec["latency_ms"]).to_dict()  # the toolkit's statistics, not the service's
        d = rec["device"]
        assert (d["kind"], d["name"], d["os"], d["service"]) == ("android", S24, "Android 14", "aihub")
        assert d["chipset"] == "qualcomm-snapdragon-8gen3" and d["serial"] is None
        assert rec["runtime"]["name"] == "tflite" and "aihub-2025.09.25.0" in rec["runtime"]["version"]
        n_layers = len(rec["layers"])
        assert n_layers > 20 and rec["runtime"]["compute_units"] == {"NPU": n_layers}
        assert all(x["time_us"] > 0 and x["type"] for x in rec["layers"])
        assert (rec["load_ms"], rec["peak_memory_mb"], rec["first_inference_ms"]) == (412.0, 12.0, None)
        job = rec["job"]
        assert job["url"] == f"https://fake-hub.invalid/jobs/{job['id']}/"
        assert hub.jobs[job["id"]]["options"] == {"--max_profiler_iterations": 20}
        assert [j["state"] for j in db.jobs()] == ["stored"]
        assert "uploading" in states and any(s.startswith("measuring performance") for s in states)
        # Another protocol on the same bytes: a new job, the same upload.
        cpu = device.run(tflite, ProfileConfig(iterations=20, delegate="cpu"))
        assert cpu["runtime"]["compute_units"] == {"CPU": n_layers} and cpu["runtime"]["delegate"] == "cpu"
        assert (hub.calls["create_and_upload_model"], hub.calls["create_inference_job"]) == (1, 2)


def test_an_estimate_only_profile_is_stored_as_one_labelled_sample(hub, tflite, tmp_path):
    hub.times_us[S24] = None  # an older profile format: the service's fastest inference only
    rec = _device(S24).run(tflite, ProfileConfig(iterations=20))
    assert rec["latency_ms"] == [1.795] and rec["latency_source"] == "service_estimate"
    assert rec["stats"]["n"] == 1 and rec["stats"]["median_ms"] == rec["stats"]["ci95_high_ms"] == 1.795
    assert any("estimate only" in n for n in rec["notes"])
    from toolkit.report import write_report

    write_report([rec], tmp_path, ("md",))
    md = (tmp_path / "report.md").read_text()
    assert "a0.25-r32 ≈" in md and "only its estimate" in md and f"{S24} (via aihub)" in md


def test_a_job_failing_on_the_phone_is_kept_with_its_reason_and_log(hub, tflite, onnx, tmp_path):
    hub.fail[PIXEL] = "Failed to load the model: QNN delegate rejected node 12"
    with ResultsDB(tmp_path / "r.db") as db:
        out = _device(PIXEL, db).run_batch([tflite, onnx], ProfileConfig(iterations=10))
        assert out.results == [] and out.error is None and len(out.failures) == 2
        for line, art in zip(out.failures, (tflite, onnx), strict=True):
            assert (
                line.startswith(f"{art.name}: failed on {PIXEL}: Failed to load the model") and "(log: https://" in line
            )
        jobs = db.jobs("aihub", ["failed"])
        assert len(jobs) == 2 and all("QNN delegate" in j["message"] and j["url"] in j["message"] for j in jobs)


def test_unknown_names_and_other_device_kinds_are_one_line(hub):
    from toolkit.profile.devices import get_device

    with pytest.raises(UsageError, match=r"no device 'Samsung Galaxy S42'; closest: Samsung Galaxy S24") as e:
        _device("Samsung Galaxy S42").describe()
    assert "toolkit aihub devices" in str(e.value) and "\n" not in str(e.value)
    with pytest.raises(UsageError, match="Snapdragon X Elite CRD is a windows device"):
        _device("Snapdragon X Elite CRD").describe()
    with pytest.raises(UsageError, match="aihub:Samsung Galaxy S24"):
        get_device("aihub:")
    assert _device("Samsung Galaxy S23").describe()["os"] == "Android 14"  # the newest of its two OS versions


def test_formats_and_protocols_the_service_cannot_honour(hub, tmp_path):
    from toolkit.profile.aihub import job_options, prepare

    for name, kind in (("m.pte", "an ExecuTorch program"), ("m.mlpackage", "a Core ML package")):
        with pytest.raises(UsageError, match=rf"AI Hub cannot run {name} \({kind}\): it runs .tflite and .onnx"):
            prepare(tmp_path / name)
    with pytest.raises(UsageError, match="not a duration"):
        job_options(ProfileConfig(duration_s=5))
    with pytest.raises(UsageError, match="compute units"):
        job_options(ProfileConfig(delegate="dsp"))
    assert job_options(ProfileConfig(iterations=50, delegate="NPU,gpu")) == (
        "--max_profiler_iterations 50 --compute_unit npu,gpu"
    )


@pytest.mark.parametrize("trouble", ["no config", "expired token", "offline"])
def test_credentials_and_network_trouble_is_one_line_and_names_the_fix(hub, tflite, tmp_path, monkeypatch, capsys,
                                                                       trouble):  # fmt: skip
    from toolkit.cli import main

    if trouble == "no config":
        monkeypatch.setenv("QAIHUB_CLIENT_INI", str(tmp_path / "missing.ini"))
    elif trouble == "expired token":
        ini = tmp_path / "old.ini"
        ini.write_text(hub.write_config(token="tok-EXPIRED").read_text())
        monkeypatch.setenv("QAIHUB_CLIENT_INI", str(ini))
    else:
        hub.offline = True
    code = main(["profile", str(tflite), "--device", f"aihub:{S24}", "--db", str(tmp_path / "r.db")])
    err = capsys.readouterr().err
    assert code == 1 and "Traceback" not in err
    expected = {
        "no config": "no AI Hub credentials: run `qai-hub configure --api_token",
        "expired token": "AI Hub refused the API token (bad or expired)",
        "offline": "AI Hub could not list its devices: Could not connect to Qualcomm AI Hub",
    }[trouble]
    assert expected in " ".join(err.split())


def test_ctrl_c_while_a_job_runs_then_the_rerun_collects_it_without_resubmitting(hub, tflite, tmp_path, capsys):
    from toolkit.cli import main

    hub.hold = True  # the phone queue is long: the job stays "measuring" until released
    hub.on_submit = lambda job_id: threading.Timer(0.1, os.kill, (os.getpid(), signal.SIGINT)).start()
    safety = threading.Timer(60, lambda: setattr(hub, "hold", False))  # never hang the suite
    safety.start()
    db = tmp_path / "r.db"
    args = ["profile", str(tflite), "--device", f"aihub:{S24}", "--db", str(db), "-n", "10"]
    try:
        assert main(args) == 130
    finally:
        safety.cancel()
    (job_id,) = hub.jobs
    err = " ".join(capsys.readouterr().err.split())
    assert f"jobs still running on the service: {job_id} (aihub: {S24})" in err and "re-run the same command" in err
    with ResultsDB(db) as store:
        assert store.count() == 0 and store.jobs()[0]["state"] in ("submitted", "running")
    hub.hold, hub.on_submit = False, None
    assert main(args) == 0
    assert (hub.calls["create_inference_job"], hub.calls["create_and_upload_model"]) == (1, 1)
    with ResultsDB(db) as store:
        assert store.count() == 1 and store.records()[0]["job"]["id"] == job_id
        assert store.jobs()[0]["state"] == "stored"
    assert f"resumed job {job_id}" in capsys.readouterr().err


def test_fan_out_keeps_going_past_a_failing_and_an_unknown_device(hub, tflite, tmp_path, capsys):
    from toolkit.cli import main

    hub.fail[PIXEL] = "Model failed to load on the device"
    db = tmp_path / "r.db"
    args = ["profile", str(tflite), "-d", f"aihub:{S24}", "-d", f"aihub:{PIXEL}", "-d", "aihub:Samsung Galaxy S42",
            "-d", "host", "--db", str(db), "-n", "10", "--warmup", "1"]  # fmt: skip
    assert main(args) == 1
    out, err = (" ".join(x.split()) for x in capsys.readouterr())
    assert f"on {S24} (tflite" in out and "timed by the service" in out
    assert f"aihub:{S24}: ok, 1 measured" in err
    assert f"aihub:{PIXEL}: partly failed, 0 measured, 1 failed" in err and "Model failed to load" in err
    assert "aihub:Samsung Galaxy S42: failed, 0 measured: AI Hub has no device" in err
    assert "host (" in err and "3 of 4 device(s)" not in err and "2 of 4 device(s) did not finish cleanly" in err
    with ResultsDB(db) as store:
        names = sorted(r["device"]["name"] for r in store.records())
    assert len(names) == 2 and S24 in names  # the phone and this host


def test_sweep_over_the_host_and_a_cloud_phone_resumes(hub, onnx, tmp_path):
    from toolkit.profile.sweep import SweepConfig, run_sweep

    cfg = SweepConfig(alphas=(0.25,), resolutions=(32,), targets=("onnx", "executorch"),
                      devices=("aihub:" + S24,), output_dir=onnx.parent, threads=1,
                      profile=ProfileConfig(warmup=1, iterations=10))  # fmt: skip
    with ResultsDB(tmp_path / "r.db") as db:
        out = run_sweep(cfg, db)
        assert len(out.measured) == 1 and out.failures == [] and out.measured[0]["device"]["service"] == "aihub"
        assert out.unsupported == ["mobilenet_v1-a0.25-r32 executorch fp32: none of the devices runs executorch"]
        both = dataclasses.replace(cfg, targets=("onnx",), devices=("host", "aihub:" + S24))
        again = run_sweep(both, db)
        assert (len(again.measured), again.already) == (1, 1) and again.measured[0]["device"]["kind"] == "host"
        assert [o.ok for o in again.devices] == [True, True] and hub.calls["create_inference_job"] == 1
    assert SweepConfig(devices=("aihub:" + S24,)).device_specs == ("aihub:" + S24,)


def test_verify_on_the_phone_compares_with_pytorch(hub, tflite, tmp_path, capsys):
    from toolkit.cli import main

    db = str(tmp_path / "r.db")
    assert main(["verify", str(tflite), "--device", f"aihub:{S24}", "--db", db]) == 0
    out = capsys.readouterr().out
    assert f"on tflite on {S24}: top-1 100%" in out and "parity holds" in out
    inputs = next(iter(hub.datasets.values()))  # what the phone got: the photos, encoded by the I/O contract
    (name,) = inputs
    assert (
        len(inputs[name]) == 6 and inputs[name][0].dtype.name == "float32" and inputs[name][0].shape == (1, 32, 32, 3)
    )
    assert main(["verify", str(tflite), "--device", f"aihub:{S24}", "--db", db]) == 0
    assert hub.calls["create_inference_job"] == 1  # the finished job is collected again, not re-run
    hub.garble.add(PIXEL)  # a delegate that shifts the scores: parity must catch it on the phone
    assert main(["verify", str(tflite), "--device", f"aihub:{PIXEL}", "--db", db]) == 1
    assert "failed parity (fp32): top-1 agreement" in capsys.readouterr().err


def test_verify_refuses_a_manifest_the_service_reads_differently(hub, tflite, tmp_path):
    import shutil

    from toolkit.profile.aihub_verify import verify_on_aihub

    art = tmp_path / tflite.name
    for f in (tflite, tflite.with_name(tflite.name + ".manifest.json"), tflite.with_name(tflite.name + ".labels.txt")):
        shutil.copy(f, tmp_path / f.name)
    manifest = json.loads((tmp_path / (tflite.name + ".manifest.json")).read_text())
    manifest["input"]["dtype"] = "float16"
    (tmp_path / (tflite.name + ".manifest.json")).write_text(json.dumps(manifest))
    with pytest.raises(
        UsageError, match=r"AI Hub reads .* input as float32 \[1, 32, 32, 3\], its manifest says float16"
    ):
        verify_on_aihub(art, _device(S24))
    assert hub.calls["create_inference_job"] == 0


def test_the_api_token_never_reaches_the_db_the_report_or_the_output(hub, tflite, tmp_path, capsys):
    from toolkit.cli import main

    db, reports = tmp_path / "r.db", tmp_path / "reports"
    assert main(["profile", str(tflite), "--device", f"aihub:{S24}", "--db", str(db), "-n", "10", "--ops"]) == 0
    assert main(["report", "--db", str(db), "--out", str(reports), "-f", "html", "-f", "md", "-f", "json"]) == 0
    out, err = capsys.readouterr()
    assert "where time goes" in out  # the per-layer profile, as the service measured it
    assert "Scheduled inference job" not in out  # the client's own chatter (verbose in its config) is silenced
    written = [db.read_bytes(), out.encode(), err.encode()] + [
        p.read_bytes() for p in reports.rglob("*") if p.is_file()
    ]
    assert not any(hub.token.encode() in blob for blob in written)
    md = (reports / "report.md").read_text()
    assert "Where time goes, per operator" in md and f"on {S24}" in md


def test_cli_sweep_names_each_devices_outcome(hub, onnx, tmp_path, capsys):
    from toolkit.cli import main

    hub.fail[PIXEL] = "The device is no longer available"
    db, reports = tmp_path / "r.db", tmp_path / "reports"
    args = ["sweep", "--alphas", "0.25", "--resolutions", "32", "--targets", "onnx", "-d", f"aihub:{S24}",
            "-d", f"aihub:{PIXEL}", "--output-dir", str(onnx.parent), "--db", str(db), "--report-dir", str(reports),
            "-n", "10", "--warmup", "1", "--max-parallel", "1"]  # fmt: skip
    assert main(args) == 1
    err = " ".join(capsys.readouterr().err.split())
    assert f"aihub:{S24}: ok, 1 measured" in err and f"aihub:{PIXEL}: partly failed, 0 measured, 1 failed" in err
    assert "The device is no longer available (log: https://fake-hub.invalid/jobs/" in err
    assert "1 of 2 device(s) did not finish cleanly" in err
    assert "Where time goes, per operator" in (reports / "report.md").read_text()
    hub.fail.clear()
    assert main(args) == 0  # the failed job is history: the re-run submits it again; S24 is already stored
    assert hub.calls["create_inference_job"] == 3


def test_cli_lists_devices_and_jobs(hub, tflite, tmp_path, capsys):
    from toolkit.cli import main

    assert main(["aihub", "devices"]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert f"{S24} android 14 qualcomm-snapdragon-8gen3" in out and "Snapdragon X Elite" not in out
    assert main(["aihub", "devices", "--all"]) == 0 and "Snapdragon X Elite CRD" in capsys.readouterr().out
    hub.fail[PIXEL] = "Timed out waiting for a device"
    db = str(tmp_path / "r.db")
    assert main(["profile", str(tflite), "-d", f"aihub:{PIXEL}", "--db", db, "-n", "5"]) == 1
    capsys.readouterr()
    assert main(["aihub", "jobs", "--db", db]) == 0
    line = " ".join(capsys.readouterr().out.split())
    assert " failed profile Google Pixel 8 https://fake-hub.invalid/jobs/" in line and "Timed out" in line
