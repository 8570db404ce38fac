"""toolkit.profile.ios end to end against a fake iPhone (tests/fake_ios) that plays the app's headless mode.

The fake implements the same Transport as the pymobiledevice3 one; everything above it (device checks,
deployment-target check, name rules, install, launch arguments, polling, sha256 check, result validation,
sweeps) is the real code. The fake app refuses what BenchCore refuses and feeds an ExecuTorch program exactly
the bytes BenchCore builds (checked here against the golden file the Swift tests use), through the host
runner's strict ``run_raw``. On-iPhone runs are not exercised in CI.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path

import jsonschema
import pytest

from tests import ios_io_golden as io_golden
from tests.fake_ios import FakePhone, FakeTransport, run_app
from toolkit.errors import MissingDependencyError, ToolkitError
from toolkit.profile.ios import (
    BUNDLE_ID,
    COMPUTE_UNITS,
    IOSDevice,
    IOSDeviceError,
    check_deployment_target,
    check_run_id,
    expand_runs,
)
from toolkit.profile.protocol import DeviceBackend, ProfileConfig
from toolkit.profile.stats import summarize

REPO = Path(__file__).resolve().parents[1]
SCHEMA = json.loads((REPO / "toolkit/schemas/result.schema.json").read_text())
COREML_MANIFEST = REPO / "ios_demo/BenchCore/Tests/BenchCoreTests/Resources/manifest_coreml.json"
FAST = ProfileConfig(warmup=1, iterations=8)
PTE_KINDS = {k.name: k for k in io_golden.KINDS if k.target == "executorch"}

pytest.importorskip("executorch")


@pytest.fixture(scope="module")
def pte_artifacts() -> dict[str, Path]:
    """Real tiny ExecuTorch exports (α=0.25, ρ=64, 10 classes, seeded random weights) of every kind the
    installed toolkit makes, shared with the I/O golden through the toolkit cache (cold: ~30 s)."""
    model = io_golden.tiny_model()
    return {name: io_golden.export_kind(k, model) for name, k in PTE_KINDS.items() if io_golden.supports(k)}


@pytest.fixture(scope="module")
def pte_artifact(pte_artifacts: dict[str, Path]) -> Path:
    return pte_artifacts["executorch-fp32"]


@pytest.fixture()
def coreml_artifact(tmp_path: Path) -> Path:
    """A Core ML package directory with a real exporter manifest, edited to need iOS 18 (the app reads only
    the manifest before Core ML itself, which Linux lacks); its sha256 is the package's own."""
    from toolkit.export.manifest import tree_sha256

    manifest = json.loads(COREML_MANIFEST.read_text())
    manifest["options"]["minimum_deployment_target"] = manifest["backend"]["minimum_deployment_target"] = "iOS18"
    pkg = tmp_path / manifest["artifact"]["file"]
    (pkg / "Data").mkdir(parents=True)
    (pkg / "Manifest.json").write_text("{}")
    manifest["artifact"]["sha256"] = tree_sha256(pkg)
    (tmp_path / f"{pkg.name}.manifest.json").write_text(json.dumps(manifest))
    return pkg


def _copy(source: Path, dest_dir: Path, name: str | None = None, **changes: object) -> Path:
    """The artifact, manifest and labels copied under ``name``, with top-level manifest keys replaced."""
    from toolkit.runtimes import read_manifest

    dest_dir.mkdir(parents=True, exist_ok=True)
    name = name or source.name
    manifest = read_manifest(source)
    manifest.update(changes)
    manifest["artifact"] = {**manifest["artifact"], "file": name}
    labels = source.with_name(f"{source.name}.labels.txt")
    shutil.copyfile(labels, dest_dir / f"{name}.labels.txt")
    if manifest.get("labels_file") == labels.name:
        manifest["labels_file"] = f"{name}.labels.txt"
    shutil.copyfile(source, dest_dir / name)
    (dest_dir / f"{name}.manifest.json").write_text(json.dumps(manifest))
    return dest_dir / name


def _phone(tmp_path: Path, udid: str = "00008130-000A1B2C3D4E5F60", **kw) -> FakePhone:
    docs = tmp_path / udid / "Documents"
    docs.mkdir(parents=True)
    return FakePhone(udid=udid, documents=docs, **kw)


def _device(*phones: FakePhone, udid: str | None = None) -> IOSDevice:
    return IOSDevice(udid, transport=FakeTransport(*phones), timeout_s=60, poll_s=0.05)


def test_run_end_to_end_returns_a_schema_valid_ios_record(tmp_path: Path, pte_artifact: Path) -> None:
    phone = _phone(tmp_path)
    dev = _device(phone)
    assert isinstance(dev, DeviceBackend) and dev.kind == "ios"
    result = dev.run(pte_artifact, ProfileConfig(warmup=2, iterations=12, threads=1, delegate="cpu_and_ne"))
    jsonschema.validate(result, SCHEMA)
    manifest = json.loads(pte_artifact.with_name(pte_artifact.name + ".manifest.json").read_text())
    assert result["device"] == {"kind": "ios", "name": "iPhone 15 Pro", "serial": phone.udid, "os": "iOS 17.5.1",
                                "cpu": "iPhone16,1", "cores": os.cpu_count()}  # fmt: skip
    assert result["artifact"]["sha256"] == manifest["artifact"]["sha256"]
    assert result["runtime"] == {"name": "executorch", "version": manifest["runtime"]["version"],
                                 "version_source": "declared", "delegate": "xnnpack"}  # fmt: skip
    assert len(result["latency_ms"]) == 12 and min(result["latency_ms"]) > 0
    assert result["stats"] == summarize(result["latency_ms"]).to_dict()
    pre = result["preprocess"]  # one frame's preprocessing per timed inference, as the app records it
    assert len(pre["latency_ms"]) == 12 and min(pre["latency_ms"]) > 0
    assert pre["stats"] == summarize(pre["latency_ms"]).to_dict()
    assert pre["steps"] == "resize 385x256 to 110x73 (bilinear), crop 64, normalize, write float32 nhwc"
    assert result["temperature_c"] == {"thermal_state": "nominal", "before": 30.5, "after": 31.0}
    # the artifact, its manifest and labels were installed into the app's Documents; the launch said so
    installed = sorted(p.name for p in (phone.documents / "models").iterdir())
    assert installed == sorted([pte_artifact.name, f"{pte_artifact.name}.manifest.json", manifest["labels_file"]])
    argv = phone.launches[0]
    assert argv[:3] == ["--benchmark", "--model", pte_artifact.name]
    assert argv[argv.index("--iterations") + 1] == "12" and argv[argv.index("--compute-units") + 1] == "cpu_and_ne"
    assert check_run_id(argv[argv.index("--run-id") + 1])


@pytest.mark.parametrize("kind", sorted(PTE_KINDS))
def test_every_pte_kind_gets_exactly_benchcores_bytes(
    tmp_path: Path, pte_artifacts: dict[str, Path], kind: str
) -> None:
    """The fake app feeds each ExecuTorch kind the bytes the Swift encoder is proven to build (the golden hash),
    the runtime takes them through its strict run_raw, and the run gives a valid record."""
    from tests.fake_ios import _prepare
    from toolkit.runtimes import open_runner
    from toolkit.runtimes.io import TensorSpec

    if kind not in pte_artifacts:
        pytest.skip(f"this toolkit cannot export {kind} yet")
    artifact = pte_artifacts[kind]
    phone = _phone(tmp_path)
    result = _device(phone).run(artifact, FAST)
    jsonschema.validate(result, SCHEMA)
    golden = {c["name"]: c for c in json.loads(io_golden.IO_GOLDEN.read_text())["encode"]}[kind]
    p = _prepare(phone, phone.documents / "models" / artifact.name)
    manifest = p.manifest
    assert io_golden.contract_view(manifest) == golden["view"], f"re-record the golden: `{io_golden.REGENERATE_IO}`"
    assert hashlib.sha256(p.x.tobytes()).hexdigest() == golden["expected_sha256"]
    assert hashlib.sha256(p.encode().tobytes()).hexdigest() == golden["expected_sha256"]  # every frame the same
    assert result["preprocess"]["steps"] == golden["steps"] == p.steps
    runner = open_runner(artifact)
    try:  # the program's own tensor is the manifest's: what the app builds from the manifest is what it takes
        spec = TensorSpec.from_manifest(manifest, "input")
        assert (runner.input_spec.dtype, runner.input_spec.shape) == (spec.dtype, spec.shape)
        sizes, order = golden["executorch"]["sizes"], golden["executorch"]["dim_order"]  # what the Swift app builds
        assert (list(runner.method_sizes), list(runner.dim_order)) == (sizes, order)
        out = TensorSpec.from_manifest(manifest, "output")
        assert (runner.output_spec.dtype, runner.output_spec.shape) == (out.dtype, out.shape)
    finally:
        runner.close()


def test_duration_mode_reaches_the_app(tmp_path: Path, pte_artifact: Path) -> None:
    phone = _phone(tmp_path)
    result = _device(phone).run(pte_artifact, ProfileConfig(warmup=0, iterations=1, duration_s=0.4))
    jsonschema.validate(result, SCHEMA)
    assert phone.launches[0][-2:] == ["--duration", "0.4"]
    assert result["config"]["iterations"] == len(result["latency_ms"]) > 1


def test_sweep_expands_coreml_over_compute_units(tmp_path: Path, pte_artifact: Path, coreml_artifact: Path) -> None:
    runs = expand_runs([coreml_artifact, pte_artifact])
    assert runs == [(coreml_artifact, u) for u in COMPUTE_UNITS] + [(pte_artifact, None)]
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


def test_sweep_keeps_finished_results_when_the_phone_is_unplugged(tmp_path: Path, pte_artifact: Path) -> None:
    phone = _phone(tmp_path, unplug_after_launches=1)
    outcome = _device(phone).sweep([pte_artifact, pte_artifact, pte_artifact], FAST)
    assert len(outcome.results) == 1 and outcome.stopped_early
    jsonschema.validate(outcome.results[0], SCHEMA)
    assert len(outcome.failures) == 1 and "was unplugged during the run" in outcome.failures[0]


def test_sweep_stops_with_one_line_when_the_phone_locks(tmp_path: Path, pte_artifact: Path) -> None:
    phone = _phone(tmp_path, lock_after_launches=1)
    seen: list[dict] = []
    outcome = _device(phone).sweep([pte_artifact] * 3, FAST, on_result=seen.append)
    assert len(outcome.results) == 1 and seen == outcome.results and outcome.stopped_early
    assert outcome.failures == [
        f"{pte_artifact.name}: iPhone 15 Pro is locked: unlock it and keep it awake during the sweep"
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
def test_phone_problems_are_one_line_each(tmp_path: Path, pte_artifact: Path, kw: dict, message: str) -> None:
    phone = _phone(tmp_path, **kw)
    with pytest.raises(IOSDeviceError) as e:
        _device(phone).run(pte_artifact, FAST)
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


def test_app_failure_and_timeout_are_reported(tmp_path: Path, coreml_artifact: Path, pte_artifact: Path) -> None:
    # the phone is new enough, but a .mlpackage cannot run on the fake's Linux host: the app's error line comes back
    phone = _phone(tmp_path, ios_version="18.1")
    with pytest.raises(IOSDeviceError, match=f"the app could not run {coreml_artifact.name}: "):
        _device(phone).run(coreml_artifact, ProfileConfig(delegate="cpu_only", warmup=0, iterations=1))
    hung = _phone(tmp_path, "HUNG", hang=True)
    dev = IOSDevice(transport=FakeTransport(hung), timeout_s=0.3, poll_s=0.05)
    with pytest.raises(IOSDeviceError, match="no result from iPhone 15 Pro after 0 s"):
        dev.run(pte_artifact, FAST)


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
    for key in ("variant", "target", "precision", "input", "output", "preprocessing", "labels_file", "options"):
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


def _results(phone: FakePhone) -> Path:
    return phone.documents / "results"


def test_fake_app_refuses_what_the_app_refuses(tmp_path: Path, pte_artifact: Path, monkeypatch) -> None:
    """Each refusal is one line in the run's error file, and no runtime is ever opened."""
    import toolkit.runtimes

    def no_runtime(*args, **kwargs):
        raise AssertionError("a refused model reached a runtime")

    monkeypatch.setattr(toolkit.runtimes, "open_runner", no_runtime)
    phone = _phone(tmp_path)
    models = phone.documents / "models"
    bad_dtype = {"shape": [1, 3, 64, 64], "layout": "nchw", "dtype": "bfloat16"}
    cases = {
        "onnx": ({"target": "onnx"}, "a onnx artifact does not run on iOS"),
        "tflite": ({"target": "tflite"}, "a tflite artifact does not run on iOS"),
        "dtype": ({"input": bad_dtype}, "unsupported tensor dtype 'bfloat16'"),
        "labels": ({"labels_file": "../../secret.txt"}, "leaves the artifact's folder"),
        "newer": ({"options": {"minimum_deployment_target": "iOS18"}}, "needs iOS 18 or newer"),
    }
    for run_id, (changes, message) in cases.items():
        model = _copy(pte_artifact, models, f"{run_id}.pte", **changes)
        run_app(phone, ["--benchmark", "--model", model.name, "--run-id", run_id, "--iterations", "1"])
        line = (_results(phone) / f"{run_id}.error.txt").read_text()
        assert message in line and line.count("\n") == 1, line
        assert not (_results(phone) / f"{run_id}.json").exists()
    # arguments: a valid run id names the error file the host polls; a bad one falls back to "latest"
    run_app(phone, ["--benchmark", "--model", "x.pte", "--iterations", "0", "--run-id", "r1"])
    assert (_results(phone) / "r1.error.txt").read_text().startswith("bad arguments: --iterations must be")
    run_app(phone, ["--benchmark", "--run-id", "a;b", "--model", "x.pte"])
    assert "--run-id may only hold" in (_results(phone) / "latest.error.txt").read_text()


def test_fake_app_refuses_a_program_whose_input_is_not_its_manifests(tmp_path: Path, pte_artifact: Path) -> None:
    """As ExecuTorchBackend.prepare: after loading, the program's dtype, logical sizes and dim order must be the
    manifest's; a channels-last program under an nchw manifest (same sizes) would otherwise run on misread bytes."""
    phone = _phone(tmp_path)
    models = phone.documents / "models"
    r = 64
    cases = {
        "asnchw": ({"shape": [1, 3, r, r], "layout": "nchw", "dtype": "float32"},
                   f"takes an input of sizes [1, 3, {r}, {r}] in dim order [0, 2, 3, 1], but its manifest's nchw "
                   f"input [1, 3, {r}, {r}] is sizes [1, 3, {r}, {r}] in dim order [0, 1, 2, 3]"),
        "asimage": ({"shape": [1, r, r, 3], "layout": "image", "dtype": "uint8"},
                    "takes ExecuTorch type float32, its manifest says uint8"),
        "asfp16": ({"shape": [1, r, r, 3], "layout": "nhwc", "dtype": "float16"},
                   "takes ExecuTorch type float32, its manifest says float16"),
    }  # fmt: skip
    for run_id, (block, message) in cases.items():
        model = _copy(pte_artifact, models, f"{run_id}.pte", input={**block, "color": "RGB"})
        run_app(phone, ["--benchmark", "--model", model.name, "--run-id", run_id, "--iterations", "1"])
        line = (_results(phone) / f"{run_id}.error.txt").read_text()
        assert message in line and line.count("\n") == 1, line
        assert not (_results(phone) / f"{run_id}.json").exists()


def test_executorch_tensor_contract() -> None:
    """The fake app's ExecuTorch tensor, as BenchCore builds it (the Swift side is held to it by the I/O golden)."""
    from tests.fake_ios import check_executorch_input, executorch_input
    from toolkit.runtimes.io import TensorSpec

    nhwc = TensorSpec("float32", (1, 32, 48, 3), "nhwc")
    assert executorch_input(nhwc) == ((1, 3, 32, 48), (0, 2, 3, 1))
    assert executorch_input(TensorSpec("float16", (1, 3, 32, 48), "nchw")) == ((1, 3, 32, 48), (0, 1, 2, 3))
    with pytest.raises(ValueError, match="input layout 'image' has no ExecuTorch sizes"):
        executorch_input(TensorSpec("uint8", (1, 32, 32, 3), "image"))
    check_executorch_input(nhwc, (1, 3, 32, 48), (0, 2, 3, 1), "m.pte")
    for sizes, order in (((1, 3, 32, 48), (0, 1, 2, 3)), ((1, 32, 48, 3), (0, 2, 3, 1)), ((1, 3, 32, 48), ())):
        with pytest.raises(ValueError, match="copy the artifact and manifest of one export"):
            check_executorch_input(nhwc, sizes, order, "m.pte")


def test_host_refuses_bad_input_before_copying_anything(tmp_path: Path, pte_artifact: Path) -> None:
    sha = {**json.loads(pte_artifact.with_name(pte_artifact.name + ".manifest.json").read_text())["artifact"]}
    cases = [
        (_copy(pte_artifact, tmp_path / "a", "my model.pte"), "cannot take this model file name: it may only hold"),
        (_copy(pte_artifact, tmp_path / "b", labels_file="../labels.txt"), "leaves the artifact's folder"),
        (_copy(pte_artifact, tmp_path / "c", target="tflite"), "is a tflite artifact; the iOS app runs Core ML"),
        (_copy(pte_artifact, tmp_path / "d", artifact={**sha, "sha256": "0" * 64}), "does not match its manifest"),
    ]
    for artifact, message in cases:
        phone = _phone(tmp_path, udid=f"U{len(message)}")
        with pytest.raises(ToolkitError) as e:
            _device(phone).run(artifact, FAST)
        assert message in str(e.value) and "\n" not in str(e.value)
        assert phone.pushes == [] and phone.launches == []
    with pytest.raises(IOSDeviceError, match="run id may only hold"):
        check_run_id("x y")


def test_a_result_for_another_artifact_is_refused(tmp_path: Path, pte_artifact: Path) -> None:
    """The record's sha256 (computed by the app from its copy) must be the local artifact's."""

    class OtherArtifactApp(FakeTransport):
        def pull(self, udid: str, bundle_id: str, remote: str) -> bytes | None:
            data = super().pull(udid, bundle_id, remote)
            if data is None or not remote.endswith(".json"):
                return data
            record = json.loads(data)
            record["artifact"]["sha256"] = "f" * 64
            return json.dumps(record).encode()

    dev = IOSDevice(transport=OtherArtifactApp(_phone(tmp_path)), timeout_s=60, poll_s=0.05)
    with pytest.raises(IOSDeviceError, match=f"measured a different {pte_artifact.name} \\(sha256 mismatch\\)"):
        dev.run(pte_artifact, FAST)


def test_host_reads_the_error_file_for_arguments_the_app_refuses(tmp_path: Path, pte_artifact: Path) -> None:
    """An older app build that does not know --cooldown writes <run-id>.error.txt; the host reports it at once
    instead of waiting out its timeout (whose message would be "no result ... after")."""
    from tests.fake_ios import OPTIONS

    phone = _phone(tmp_path, app_options=OPTIONS - {"--cooldown"})
    with pytest.raises(IOSDeviceError) as e:
        _device(phone).run(pte_artifact, ProfileConfig(warmup=0, iterations=1, cooldown_s=0.01))
    assert f"the app could not run {pte_artifact.name}: bad arguments: unknown option --cooldown" in str(e.value)
