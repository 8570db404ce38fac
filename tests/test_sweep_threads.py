"""``toolkit sweep --threads``: autotuned by default on the host, explicit counts kept, phones on their default,
and the export manifest saying which thread count its parity check ran with."""

from __future__ import annotations

import dataclasses
import json

import jsonschema
import pytest

from tests._export_helpers import exported, model
from toolkit._deps import HAS_LITERT_TORCH, HAS_ONNXRUNTIME, HAS_TFLITE_INTERPRETER
from toolkit.errors import UsageError
from toolkit.profile.protocol import ProfileConfig, result_schema_problem
from toolkit.profile.threads import candidate_threads, pick_fastest
from toolkit.results import ResultsDB

pytestmark = pytest.mark.skipif(not HAS_ONNXRUNTIME, reason="onnxruntime not installed")

ALPHA, RES = 0.25, 32


def _sweep_args(tmp_path, *extra: str) -> list[str]:
    art_dir = exported("onnx", ALPHA, RES).path.parent  # built once per session; the sweep reuses it
    return ["sweep", "--alphas", str(ALPHA), "--resolutions", str(RES), "--targets", "onnx", "-n", "5",
            "--warmup", "1", "--jobs", "1", "--output-dir", str(art_dir), "--db", str(tmp_path / "r.db"),
            "--report-dir", str(tmp_path / "reports"), *extra]  # fmt: skip


def _records(tmp_path) -> list[dict]:
    with ResultsDB(tmp_path / "r.db") as store:
        return store.records()


def test_cli_sweep_autotunes_by_default_then_keeps_explicit_counts(tmp_path, capsys):
    from toolkit.cli import main

    assert main(_sweep_args(tmp_path)) == 0
    out = capsys.readouterr().out
    (rec,) = _records(tmp_path)
    c = rec["config"]
    assert c["threads_chosen_by"] == "autotune" and c["threads"] in candidate_threads()
    assert set(c["threads_tuning_ms"]) == {str(n) for n in candidate_threads()}
    assert c["threads"] == pick_fastest({int(k): v for k, v in c["threads_tuning_ms"].items()})
    assert result_schema_problem(rec) is None
    assert f"{c['threads']} (autotuned)" in out and "1 measured, 0 already" in out

    assert main(_sweep_args(tmp_path)) == 0  # resuming an autotuned sweep finds it without re-tuning
    assert "0 measured, 1 already" in capsys.readouterr().out

    assert main(_sweep_args(tmp_path, "--threads", "1")) == 0  # another protocol: measured anew
    out = capsys.readouterr().out
    user = [r for r in _records(tmp_path) if r["config"]["threads_chosen_by"] == "user"]
    assert len(user) == 1 and user[0]["config"]["threads"] == 1 and "threads_tuning_ms" not in user[0]["config"]
    assert "a0.25-r32" in out and "(autotuned)" not in out
    assert main(_sweep_args(tmp_path, "--threads", "0")) == 0
    assert [r["config"]["threads_chosen_by"] for r in _records(tmp_path)].count("runtime_default") == 1


@pytest.mark.parametrize("bad", ["many", "-1", "1.5"])
def test_cli_sweep_rejects_a_bad_thread_count_in_one_line(tmp_path, capsys, bad):
    from toolkit.cli import main

    assert main(_sweep_args(tmp_path, f"--threads={bad}")) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "threads" in err and bad in err
    assert not (tmp_path / "r.db").exists()  # refused before anything ran


def test_sweep_config_has_one_source_for_threads():
    from toolkit.profile.sweep import SweepConfig

    assert SweepConfig(alphas=(ALPHA,), resolutions=(RES,)).threads is None  # auto unless told
    with pytest.raises(UsageError, match="threads"):
        SweepConfig(alphas=(ALPHA,), resolutions=(RES,), threads=-2)
    with pytest.raises(UsageError, match=r"SweepConfig\.threads"):
        SweepConfig(alphas=(ALPHA,), resolutions=(RES,), profile=ProfileConfig(threads=2))


@pytest.mark.skipif(not (HAS_LITERT_TORCH and HAS_TFLITE_INTERPRETER), reason="needs the TFLite exporter and runtime")
def test_phone_sweep_uses_the_app_default_not_autotune(tmp_path, monkeypatch):
    from tests.fake_adb.device import FakePhones
    from toolkit.profile.sweep import SweepConfig, run_sweep

    phones = FakePhones(tmp_path / "phones")
    for key, value in phones.env().items():
        monkeypatch.setenv(key, value)
    phones.add("FAKE01")  # the fake phone runs the app's own code: a .tflite, as a real phone would
    cfg = SweepConfig(alphas=(ALPHA,), resolutions=(RES,), targets=("tflite",), device="android:FAKE01",
                      output_dir=exported("tflite", ALPHA, RES).path.parent,
                      profile=ProfileConfig(warmup=1, iterations=5))  # fmt: skip
    with ResultsDB(tmp_path / "r.db") as store:
        out = run_sweep(cfg, store)
        assert out.failures == [] and len(out.measured) == 1
        c = out.measured[0]["config"]
        assert (c["threads"], c["threads_chosen_by"]) == (0, "runtime_default") and "threads_tuning_ms" not in c
        explicit = dataclasses.replace(cfg, threads=0)  # on a phone auto and 0 are the same request
        assert len(run_sweep(explicit, store).measured) == 0


def test_manifest_records_the_verification_threads(tmp_path):
    from toolkit.export import ExportConfig, export
    from toolkit.export.manifest import validate_manifest

    shared = exported("onnx", ALPHA, RES).manifest
    assert shared["verification"] == {"threads": 0}  # the runtime's default
    validate_manifest(shared)
    one = export(model(ALPHA, RES), ExportConfig(target="onnx", output_dir=tmp_path, threads=1), progress=False)
    assert one.manifest["verification"] == {"threads": 1} and one.manifest["parity"]["passed"]
    assert one.manifest["cache_key"] == shared["cache_key"]  # threads never change the bytes
    on_disk = json.loads(one.manifest_path.read_text())
    validate_manifest(on_disk)
    validate_manifest({k: v for k, v in on_disk.items() if k != "verification"})  # older manifests still pass
    with pytest.raises(jsonschema.ValidationError):
        validate_manifest({**on_disk, "verification": {"threads": -1}})
    unverified = export(model(ALPHA, RES), ExportConfig(target="onnx", output_dir=tmp_path / "nv", verify=False),
                        progress=False)  # fmt: skip
    assert unverified.manifest["verification"] is None
    validate_manifest(unverified.manifest)
