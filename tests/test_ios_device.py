"""toolkit.profile.ios end to end against a fake iPhone (tests/fake_ios) that runs the artifact on the host.

The fake implements the same Transport as the pymobiledevice3 one; everything above it (device checks,
deployment-target check, install, launch arguments, polling, result validation, sweeps) is the real code.
On-iPhone runs are not exercised in CI.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import jsonschema
import pytest

from tests.fake_ios import FakePhone, FakeTransport
from toolkit.errors import MissingDependencyError, ToolkitError
from toolkit.profile.ios import (
    BUNDLE_ID,
    COMPUTE_UNITS,
    IOSDevice,
    IOSDeviceError,
    check_deployment_target,
    expand_runs,
)
from toolkit.profile.protocol import DeviceBackend, ProfileConfig
from toolkit.profile.stats import summarize

REPO = Path(__file__).resolve().parents[1]
SCHEMA = json.loads((REPO / "toolkit/schemas/result.schema.json").read_text())
COREML_MANIFEST = REPO / "ios_demo/BenchCore/Tests/BenchCoreTests/Resources/manifest_coreml.json"
FAST = ProfileConfig(warmup=1, iterations=8)

pytest.importorskip("onnxruntime")


@pytest.fixture(scope="module")
def onnx_artifact() -> Path:
    """A real exported MobileNet (α=0.25, ρ=64, seeded random weights) with manifest and labels.

    Exported once into the toolkit cache and reused through the exporter's own cache key (the ONNX export
    takes ~30 s on 2 busy cores); parity is the exporter's tests' business, not this one's.
    """
    from toolkit import mobilenet_v1
    from toolkit.export.base import ExportConfig
    from toolkit.export.pipeline import export
    from toolkit.weights import cache_dir

    model = mobilenet_v1(0.25, 64, weights="random")
    cfg = ExportConfig(target="onnx", output_dir=cache_dir() / "test-artifacts" / "ios", verify=False)
    return export(model, cfg, progress=False).path


@pytest.fixture()
def coreml_artifact(tmp_path: Path) -> Path:
    """A Core ML package directory with a real exporter manifest, edited to need iOS 18 (only it is read)."""
    manifest = json.loads(COREML_MANIFEST.read_text())
    manifest["options"]["minimum_deployment_target"] = manifest["backend"]["minimum_deployment_target"] = "iOS18"
    pkg = tmp_path / manifest["artifact"]["file"]
    (pkg / "Data").mkdir(parents=True)
    (pkg / "Manifest.json").write_text("{}")
    (tmp_path / f"{pkg.name}.manifest.json").write_text(json.dumps(manifest))
    return pkg


def _phone(tmp_path: Path, udid: str = "00008130-000A1B2C3D4E5F60", **kw) -> FakePhone:
    docs = tmp_path / udid / "Documents"
    docs.mkdir(parents=True)
    return FakePhone(udid=udid, documents=docs, **kw)


def _device(*phones: FakePhone, udid: str | None = None) -> IOSDevice:
    return IOSDevice(udid, transport=FakeTransport(*phones), timeout_s=60, poll_s=0.05)


def test_run_end_to_end_returns_a_schema_valid_ios_record(tmp_path: Path, onnx_artifact: Path) -> None:
    phone = _phone(tmp_path)
    dev = _device(phone)
    assert isinstance(dev, DeviceBackend) and dev.kind == "ios"
    result = dev.run(onnx_artifact, ProfileConfig(warmup=2, iterations=12, threads=1, delegate="cpu_and_ne"))
    jsonschema.validate(result, SCHEMA)
    manifest = json.loads(onnx_artifact.with_name(onnx_artifact.name + ".manifest.json").read_text())
    assert result["device"] == {"kind": "ios", "name": "iPhone 15 Pro", "serial": phone.udid, "os": "iOS 17.5.1",
                                "cpu": "iPhone16,1", "cores": os.cpu_count()}  # fmt: skip
    assert result["artifact"]["sha256"] == manifest["artifact"]["sha256"]
    assert result["runtime"]["delegate"] == "cpu_and_ne"
    assert len(result["latency_ms"]) == 12 and min(result["latency_ms"]) > 0
    assert result["stats"] == summarize(result["latency_ms"]).to_dict()
    assert result["temperature_c"] == {"thermal_state": "nominal", "before": 30.5, "after": 31.0}
    # the artifact, its manifest and labels were installed into the app's Documents; the launch said so
    installed = sorted(p.name for p in (phone.documents / "models").iterdir())
    assert installed == sorted([onnx_artifact.name, f"{onnx_artifact.name}.manifest.json", manifest["labels_file"]])
    argv = phone.launches[0]
    assert argv[:3] == ["--benchmark", "--model", onnx_artifact.name]
    assert argv[argv.index("--iterations") + 1] == "12" and argv[argv.index("--compute-units") + 1] == "cpu_and_ne"


def test_duration_mode_reaches_the_app(tmp_path: Path, onnx_artifact: Path) -> None:
    phone = _phone(tmp_path)
    result = _device(phone).run(onnx_artifact, ProfileConfig(warmup=0, iterations=1, duration_s=0.4))
    jsonschema.validate(result, SCHEMA)
    assert phone.launches[0][-2:] == ["--duration", "0.4"]
    assert result["config"]["iterations"] == len(result["latency_ms"]) > 1


def test_sweep_expands_coreml_over_compute_units(tmp_path: Path, onnx_artifact: Path, coreml_artifact: Path) -> None:
    runs = expand_runs([coreml_artifact, onnx_artifact])
    assert runs == [(coreml_artifact, u) for u in COMPUTE_UNITS] + [(onnx_artifact, None)]
    assert expand_runs([coreml_artifact], ["cpu_only", "all"]) == [
        (coreml_artifact, "cpu_only"),
        (coreml_artifact, "all"),
    ]
    with pytest.raises(IOSDeviceError, match="unknown compute units npu"):
        expand_runs([coreml_artifact], ["npu"])


def test_coreml_needing_newer_ios_is_refused_before_install(tmp_path: Path, coreml_artifact: Path) -> None:
    phone = _phone(tmp_path, ios_version="17.5.1")
    with pytest.raises(IOSDeviceError, match=r"needs iOS 18 or newer but iPhone 15 Pro runs iOS 17.5.1") as e:
        _device(phone).run(coreml_artifact, FAST)
    assert "\n" not in str(e.value)
    assert not (phone.documents / "models").exists() and phone.launches == []
    manifest = json.loads(coreml_artifact.with_name(coreml_artifact.name + ".manifest.json").read_text())
    from toolkit.profile.ios import PhoneInfo

    check_deployment_target(manifest, PhoneInfo("u", "iPhone", "iPhone17,1", "18.0", True))  # new enough: no error


def test_sweep_keeps_finished_results_when_the_phone_is_unplugged(tmp_path: Path, onnx_artifact: Path) -> None:
    phone = _phone(tmp_path, unplug_after_launches=1)
    outcome = _device(phone).sweep([onnx_artifact, onnx_artifact, onnx_artifact], FAST)
    assert len(outcome.results) == 1 and outcome.stopped_early
    jsonschema.validate(outcome.results[0], SCHEMA)
    assert len(outcome.failures) == 1 and "was unplugged during the run" in outcome.failures[0]


def test_sweep_stops_with_one_line_when_the_phone_locks(tmp_path: Path, onnx_artifact: Path) -> None:
    phone = _phone(tmp_path, lock_after_launches=1)
    seen: list[dict] = []
    outcome = _device(phone).sweep([onnx_artifact] * 3, FAST, on_result=seen.append)
    assert len(outcome.results) == 1 and seen == outcome.results and outcome.stopped_early
    assert outcome.failures == [
        f"{onnx_artifact.name}: iPhone 15 Pro is locked: unlock it and keep it awake during the sweep"
    ]


@pytest.mark.parametrize(
    ("kw", "message"),
    [
        ({"pair_state": "not_paired"}, "is not paired with this computer: unlock it, tap Trust"),
        ({"pair_state": "not_trusted"}, "has not trusted this computer"),
        ({"developer_mode": False}, "Developer Mode is off on iPhone 15 Pro"),
        ({"apps": set()}, f"the benchmark app ({BUNDLE_ID}) is not installed on iPhone 15 Pro"),
    ],
)
def test_phone_problems_are_one_line_each(tmp_path: Path, onnx_artifact: Path, kw: dict, message: str) -> None:
    phone = _phone(tmp_path, **kw)
    with pytest.raises(IOSDeviceError) as e:
        _device(phone).run(onnx_artifact, FAST)
    assert message in str(e.value) and "\n" not in str(e.value)
    assert isinstance(e.value, ToolkitError) and phone.launches == []


def test_device_selection(tmp_path: Path) -> None:
    with pytest.raises(IOSDeviceError, match="no iPhone connected"):
        _device().describe()
    a, b = _phone(tmp_path, "AAAA"), _phone(tmp_path, "BBBB", name="iPhone 12", ios_version="16.7")
    with pytest.raises(IOSDeviceError, match="2 iPhones connected; pick one with --device ios:UDID"):
        _device(a, b).describe()
    with pytest.raises(IOSDeviceError, match="iPhone CCCC is not connected"):
        _device(a, b, udid="CCCC").describe()
    assert _device(a, b, udid="BBBB").describe()["os"] == "iOS 16.7"


def test_app_failure_and_timeout_are_reported(tmp_path: Path, coreml_artifact: Path, onnx_artifact: Path) -> None:
    # the phone is new enough, but a .mlpackage cannot run on the fake's Linux host: the app's error line comes back
    phone = _phone(tmp_path, ios_version="18.1")
    with pytest.raises(IOSDeviceError, match=f"the app could not run {coreml_artifact.name}: "):
        _device(phone).run(coreml_artifact, ProfileConfig(delegate="cpu_only", warmup=0, iterations=1))
    hung = _phone(tmp_path, "HUNG", hang=True)
    dev = IOSDevice(transport=FakeTransport(hung), timeout_s=0.3, poll_s=0.05)
    with pytest.raises(IOSDeviceError, match="no result from iPhone 15 Pro after 0 s"):
        dev.run(onnx_artifact, FAST)


def test_without_pymobiledevice3_the_error_names_the_install(monkeypatch: pytest.MonkeyPatch) -> None:
    import builtins

    real_import = builtins.__import__

    def no_pmd3(name: str, *args, **kwargs):
        if name.startswith("pymobiledevice3"):
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_pmd3)
    with pytest.raises(MissingDependencyError, match="pip install pymobiledevice3"):
        IOSDevice().describe()


def test_real_transport_reports_no_device_here() -> None:
    """With pymobiledevice3 installed and no phone (CI), the real transport says so in one line."""
    pytest.importorskip("pymobiledevice3")
    with pytest.raises(IOSDeviceError, match="no iPhone connected"):
        IOSDevice(timeout_s=1).describe()


def test_list_phones_reports_what_blocks_each_phone(tmp_path: Path) -> None:
    from toolkit.profile.ios import list_phones

    ok = _phone(tmp_path, "AAAA", developer_mode=False, apps=set())
    untrusted = _phone(tmp_path, "BBBB", pair_state="not_trusted")
    rows = list_phones(FakeTransport(ok, untrusted))
    assert rows == [
        {"udid": "AAAA", "pair_state": "paired", "name": "iPhone 15 Pro", "product_type": "iPhone16,1",
         "ios": "17.5.1", "developer_mode": False, "app_installed": False},
        {"udid": "BBBB", "pair_state": "not_trusted"},
    ]  # fmt: skip


def test_cli_ios_devices(capsys: pytest.CaptureFixture[str]) -> None:
    """`toolkit ios devices`: one line and exit 3 without pymobiledevice3; 'no iPhone' with it and no phone."""
    import importlib.util

    from toolkit.cli import main

    code = main(["ios", "devices"])
    out = capsys.readouterr()
    if importlib.util.find_spec("pymobiledevice3") is None:
        assert code == 3 and "pip install pymobiledevice3" in out.err
    else:
        assert code == 0 and "no iPhone connected" in out.out


@pytest.mark.slow
def test_coreml_manifest_fixture_matches_the_exporter(tmp_path: Path) -> None:
    """The Core ML manifest the Swift tests decode is what toolkit export writes today (~2 min: slow)."""
    pytest.importorskip("coremltools")
    from toolkit import mobilenet_v1
    from toolkit.export.base import ExportConfig
    from toolkit.export.pipeline import export

    cfg = ExportConfig(target="coreml", precision="fp16", output_dir=tmp_path, minimum_deployment_target="iOS17")
    fresh = export(mobilenet_v1(0.5, 160, weights="random"), cfg, progress=False).manifest
    fixture = json.loads(COREML_MANIFEST.read_text())
    for key in ("variant", "target", "precision", "input", "preprocessing", "labels_file", "options"):
        assert json.loads(json.dumps(fresh[key])) == fixture[key], key
    assert fresh["artifact"]["file"] == fixture["artifact"]["file"]
    for key in ("minimum_deployment_target", "outputs", "input_name", "normalize_in_graph"):
        assert fresh["backend"][key] == fixture["backend"][key], key


def test_coreml_sweep_launches_every_compute_unit_and_copies_once(tmp_path: Path, coreml_artifact: Path) -> None:
    """Four launches, one per compute-unit setting; the package is copied once; app failures do not stop it."""
    phone = _phone(tmp_path, ios_version="18.1")
    outcome = _device(phone).sweep([coreml_artifact], ProfileConfig(warmup=0, iterations=1))
    units = [argv[argv.index("--compute-units") + 1] for argv in phone.launches]
    assert units == list(COMPUTE_UNITS) and not outcome.stopped_early
    assert phone.pushes == [coreml_artifact.name, f"{coreml_artifact.name}.manifest.json"]
    assert len(outcome.failures) == 4 and all("the app could not run" in f for f in outcome.failures)
    assert outcome.failures[1].startswith(f"{coreml_artifact.name} [cpu_and_gpu]: ")
