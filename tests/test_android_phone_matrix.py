"""Every artifact kind the toolkit exports for a phone, run by the Android app's own code, plus bad input.

``toolkit profile --device android`` drives the fake phone (tests/fake_adb/), whose ``am start`` runs
the app's headless entry (benchcore) and its runtime backends on a JVM; only the runtime calls cross
to the host runtime, through a bridge that takes exactly the tensor the real runtime takes. Each run's
first output (decoded by the app's Java) must equal the host runner's output on the same photo.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import jsonschema
import numpy as np
import pytest

from tests.fake_adb.artifacts import phone_artifact
from tests.fake_adb.device import FakePhones, app_classes
from toolkit._deps import HAS_EXECUTORCH, HAS_LITERT_TORCH, HAS_TFLITE_INTERPRETER
from toolkit.errors import UsageError
from toolkit.profile.android import RESULTS_DIR, AndroidDevice, AndroidDeviceError
from toolkit.profile.android_protocol import PUSH_DIR, headless_protocol, validate_run_id
from toolkit.profile.protocol import ProfileConfig

ROOT = Path(__file__).resolve().parents[1]
SCHEMA = json.loads((ROOT / "toolkit/schemas/result.schema.json").read_text())
FAST = ProfileConfig(threads=1, warmup=1, iterations=3)
_NEEDS = {"executorch": HAS_EXECUTORCH, "tflite": HAS_LITERT_TORCH and HAS_TFLITE_INTERPRETER}

# (target, precision, scheme, io): every phone artifact kind the exporters write. "float" (the default) is
# float32 I/O; "native" keeps the compute dtype at the edges, which exists for full-integer TFLite (int8)
# and fp16 ExecuTorch (float16) only: the exporters refuse it elsewhere.
MATRIX = [
    ("executorch", "fp32", None, "float"),
    ("executorch", "fp16", None, "float"),
    ("executorch", "fp16", None, "native"),
    ("executorch", "int8", None, "float"),
    ("executorch", "int8", "int8-dynamic", "float"),
    ("tflite", "fp32", None, "float"),
    ("tflite", "fp16", None, "float"),
    ("tflite", "int8", None, "float"),
    ("tflite", "int8", None, "native"),
    ("tflite", "int8", "int8-dynamic", "float"),
]
# The default run: each input dtype (float32, float16, int8) and both layouts (ExecuTorch nchw, TFLite nhwc).
FAST_CASES = {
    ("tflite", "fp32", None, "float"),
    ("tflite", "int8", None, "native"),
    ("tflite", "int8", None, "float"),
    ("executorch", "fp16", None, "native"),
    ("executorch", "int8", None, "float"),
}


def _case_id(case: tuple) -> str:
    target, precision, scheme, io = case
    return "-".join(x for x in (target, scheme or precision, io) if x)


def _artifact(case: tuple) -> Path:
    target, precision, scheme, io = case
    if not _NEEDS[target]:
        pytest.skip(f"needs the {target} exporter and runtime")
    return phone_artifact(target, precision, scheme, io)


@pytest.fixture(scope="module")
def photo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The bundled photo as PNG: ImageIO (the fake phone) and Pillow decode it to the same pixels."""
    from toolkit.data import load_image

    path = tmp_path_factory.mktemp("photo") / "chelsea_cat.png"
    load_image(ROOT / "toolkit/assets/images/chelsea_cat.jpg").save(path)
    return path


@pytest.fixture
def phones(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, photo: Path) -> FakePhones:
    fake = FakePhones(tmp_path / "phones")
    for key, value in fake.env().items():
        monkeypatch.setenv(key, value)
    fake.add("FAKE01", photo=str(photo))
    return fake


def host_scores(artifact: Path, photo: Path) -> np.ndarray:
    """What the host runtime computes for the photo, fed through the I/O contract (toolkit/runtimes/io.py)."""
    from toolkit.data import Preprocessing, load_image
    from toolkit.runtimes import open_runner, read_manifest
    from toolkit.runtimes.io import TensorSpec, decode, encode_pixels

    manifest = read_manifest(artifact)
    prep = Preprocessing.from_dict(manifest["preprocessing"])
    rgb = prep.crop(load_image(photo), manifest["variant"]["resolution"])
    x = encode_pixels(rgb, TensorSpec.from_manifest(manifest, "input"), prep.mean, prep.std)
    runner = open_runner(artifact, threads=1)
    try:
        return decode(runner.run_raw(x), TensorSpec.from_manifest(manifest, "output")).reshape(-1)
    finally:
        runner.close()


@pytest.mark.parametrize(
    "case", [pytest.param(c, id=_case_id(c), marks=() if c in FAST_CASES else pytest.mark.slow) for c in MATRIX]
)
def test_the_app_runs_every_phone_artifact_and_computes_what_the_host_does(case, phones, photo):
    artifact = _artifact(case)
    manifest = json.loads(Path(f"{artifact}.manifest.json").read_text())
    record = AndroidDevice(poll_s=0.1).run(artifact, FAST)
    jsonschema.validate(record, SCHEMA)
    assert record["runtime"]["name"] == case[0] and record["artifact"]["precision"] == manifest["precision"]
    assert record["runtime"]["version_source"] == ("runtime" if case[0] == "tflite" else "declared")
    dtype = manifest["input"].get("dtype", "float32")
    assert f"as {dtype} " in " ".join(record["notes"])  # the path the app took: the manifest's input dtype
    phone = np.asarray(record["first_output"], dtype=np.float32)
    host = host_scores(artifact, photo)
    assert phone.shape == host.shape == (10,)
    np.testing.assert_array_equal(phone, host)  # same bytes in, same runtime: the same bits out
    assert np.ptp(host) > 0  # a real answer, not a constant


# ---- bad input: one clear line on the host, an error record on the phone, nothing run -----------------------


@pytest.fixture(scope="module")
def tflite_fp32() -> Path:
    return _artifact(("tflite", "fp32", None, "float"))


def _copy(artifact: Path, dest: Path, name: str | None = None, **manifest_changes) -> Path:
    """The artifact with its manifest (edited) and labels under ``dest``, optionally renamed."""
    dest.mkdir(parents=True, exist_ok=True)
    out = dest / (name or artifact.name)
    shutil.copy(artifact, out)
    manifest = json.loads(Path(f"{artifact}.manifest.json").read_text())
    for key, value in manifest_changes.items():
        block, _, field = key.partition("__")
        if field:
            manifest[block][field] = value
        else:
            manifest[key] = value
    manifest["labels_file"] = manifest_changes.get("labels_file", f"{out.name}.labels.txt")
    Path(f"{out}.manifest.json").write_text(json.dumps(manifest))
    shutil.copy(f"{artifact}.labels.txt", f"{out}.labels.txt")
    return out


def _nothing_started(phones: FakePhones) -> bool:
    return not [c for c in phones.calls() if "push" in c] and not [s for s in phones.shell_lines() if "am start" in s]


def _phone_run(phones: FakePhones, files: list[Path], extras: list[str]) -> dict:
    """Push files and start the activity by hand, as a device farm host or a user at a shell would."""
    dev = AndroidDevice()
    for f in files:
        dev.adb("push", str(f), f"{PUSH_DIR}/{f.name}")
    out = dev.shell("am", "start", "-S", "-n", "org.mobilenet.toolkit.demo/.BenchmarkActivity", *extras)
    assert "Error" not in out, out
    phones.wait_idle("FAKE01")
    records = list(phones.file("FAKE01", RESULTS_DIR).glob("*.json"))
    assert len(records) == 1, records
    return {"file": records[0].name, **json.loads(records[0].read_text())}


def test_a_dtype_the_app_cannot_feed(phones, tflite_fp32, tmp_path):
    bad = _copy(tflite_fp32, tmp_path / "a", input__dtype="bfloat16")
    with pytest.raises(UsageError, match=r"unsupported tensor dtype 'bfloat16'") as e:
        AndroidDevice().run(bad, FAST)
    assert "\n" not in str(e.value) and _nothing_started(phones)
    err = _phone_run(phones, [bad, Path(f"{bad}.manifest.json")],
                     ["--es", "model_path", f"{PUSH_DIR}/{bad.name}", "--es", "run_id", "r1"])  # fmt: skip
    assert err["file"] == "r1.error.json" and err["stage"] == "manifest"
    assert "bfloat16, which the app cannot feed" in err["error"]


def test_a_labels_path_leaving_the_artifacts_folder(phones, tflite_fp32, tmp_path):
    bad = _copy(tflite_fp32, tmp_path / "a", labels_file="../../../etc/passwd")
    with pytest.raises(UsageError, match="leaves the artifact's folder") as e:
        AndroidDevice().run(bad, FAST)
    assert "\n" not in str(e.value) and _nothing_started(phones)
    err = _phone_run(phones, [bad, Path(f"{bad}.manifest.json")],
                     ["--es", "model_path", f"{PUSH_DIR}/{bad.name}", "--es", "run_id", "r2"])  # fmt: skip
    assert err["stage"] == "manifest" and "leaves the artifact's folder" in err["error"]


BAD_RUN_IDS = ["a b", "x;reboot", "$(reboot)", ".hidden", "a/b", "x" * 129, ""]


def test_run_ids_with_spaces_or_shell_characters_are_refused_on_the_host(tflite_fp32):
    for run_id in BAD_RUN_IDS:
        with pytest.raises(UsageError, match="must be 1-128 characters"):
            validate_run_id(run_id)
        with pytest.raises(UsageError, match="must be 1-128 characters"):
            headless_protocol(tflite_fp32, run_id, FAST)


@pytest.mark.parametrize("run_id", ["a b", "$(reboot);x"])
def test_run_ids_with_spaces_or_shell_characters_are_refused_on_the_phone(run_id, phones, tflite_fp32):
    err = _phone_run(phones, [tflite_fp32, Path(f"{tflite_fp32}.manifest.json")],
                     ["--es", "model_path", f"{PUSH_DIR}/{tflite_fp32.name}", "--es", "run_id", run_id])  # fmt: skip
    assert err["file"] == "invalid-run-id.error.json" and err["stage"] == "arguments"


def test_paths_with_spaces_or_shell_characters(phones, tflite_fp32, tmp_path):
    spaced = _copy(tflite_fp32, tmp_path / "a", name="my model.tflite")
    with pytest.raises(UsageError, match="cannot be pushed to the phone") as e:
        AndroidDevice().run(spaced, FAST)
    assert "\n" not in str(e.value) and _nothing_started(phones)
    for path in (f"{PUSH_DIR}/my model.tflite", f"{PUSH_DIR}/m.tflite;reboot", f"{PUSH_DIR}/../../../sdcard/m.tflite"):
        err = _phone_run(phones, [], ["--es", "model_path", path, "--es", "run_id", "r3"])
        assert err["stage"] == "arguments" and "model_path" in err["error"], err
        phones.file("FAKE01", f"{RESULTS_DIR}/r3.error.json").unlink()


def test_an_unquoted_shell_line_never_reaches_the_app(phones, tflite_fp32):
    """The fake phone's sh is as strict as a real one would be dangerous: unquoted metacharacters are refused."""
    out = AndroidDevice().shell_line(f"am start -n x --es run_id a;reboot --es model_path {PUSH_DIR}/m", check=False)
    assert out == "" and not phones.file("FAKE01", RESULTS_DIR).exists()
    steps = headless_protocol(tflite_fp32, "ok-1", FAST)
    assert all(line == " ".join(line.split()) for line in (steps.start, *steps.prepare))  # plain words, quoted


@pytest.mark.skipif(not HAS_EXECUTORCH, reason="needs executorch")
def test_executorch_refuses_a_tensor_of_another_dtype(phones, tmp_path):
    """A manifest that hides the program's float16 input: the app feeds float32, ExecuTorch refuses it."""
    fp16 = _artifact(("executorch", "fp16", None, "native"))
    lying = _copy(fp16, tmp_path / "a", input__dtype="float32", output__dtype="float32")
    with pytest.raises(AndroidDeviceError) as e:
        AndroidDevice(poll_s=0.1).run(lying, FAST)
    msg = str(e.value)
    assert "(run)" in msg and "[ExecuTorch Error 0x12] Invalid argument: Execution failed for method: forward" in msg
    assert "Input 0 has unexpected scalar type: expected Half but was Float." in msg


def test_litert_tensor_types_are_checked_before_running(phones, tmp_path):
    """A manifest that hides the model's int8 input: the app's LiteRT backend refuses before any run."""
    int8 = _artifact(("tflite", "int8", None, "native"))
    lying = _copy(int8, tmp_path / "a", input={"shape": [1, 32, 32, 3], "layout": "nhwc", "dtype": "float32"})
    with pytest.raises(AndroidDeviceError) as e:
        AndroidDevice(poll_s=0.1).run(lying, FAST)
    msg = str(e.value)
    assert "(input)" in msg and "is INT8 [1, 32, 32, 3] (3072 bytes), its manifest says float32" in msg


def _gpu_delegate_without_its_api(folder: Path) -> Path:
    """litert-gpu without litert-gpu-api: a GpuDelegate whose constructor needs a class that is absent."""
    src = folder / "src/org/tensorflow/lite/gpu"
    src.mkdir(parents=True)
    (src / "GpuDelegateFactory.java").write_text(
        "package org.tensorflow.lite.gpu;\npublic class GpuDelegateFactory { public static class Options {} }\n"
    )
    (src / "GpuDelegate.java").write_text(
        "package org.tensorflow.lite.gpu;\npublic class GpuDelegate implements org.tensorflow.lite.Delegate {\n"
        "  public GpuDelegate() { this(new GpuDelegateFactory.Options()); }\n"
        "  public GpuDelegate(GpuDelegateFactory.Options o) {}\n"
        "  public long getNativeHandle() { return 0; }\n  public void close() {}\n}\n"
    )
    out = folder / "classes"
    subprocess.run(["javac", "-cp", str(app_classes()), "-d", str(out), *map(str, src.glob("*.java"))], check=True)
    for absent in out.rglob("GpuDelegateFactory*.class"):  # the litert-gpu-api part
        absent.unlink()
    return out


def test_the_gpu_delegate_names_every_artifact_it_needs(phones, tflite_fp32, tmp_path):
    gpu = ProfileConfig(iterations=2, delegate="gpu")
    with pytest.raises(AndroidDeviceError) as e:  # no litert-gpu at all
        AndroidDevice(poll_s=0.1).run(tflite_fp32, gpu)
    msg = str(e.value)
    assert "(load)" in msg and "GpuDelegate cannot be created in this build (ClassNotFoundException" in msg
    assert "com.google.ai.edge.litert:litert-gpu and com.google.ai.edge.litert:litert-gpu-api" in msg
    state = phones.read()
    state["jvm"]["classpath"] += os.pathsep + str(_gpu_delegate_without_its_api(tmp_path))
    (phones.state / "state.json").write_text(json.dumps(state))
    with pytest.raises(AndroidDeviceError) as e:  # litert-gpu present, litert-gpu-api missing
        AndroidDevice(poll_s=0.1).run(tflite_fp32, gpu)
    msg = str(e.value)
    assert "(load)" in msg and "(NoClassDefFoundError: org/tensorflow/lite/gpu/GpuDelegateFactory$Options)" in msg
    assert "litert-gpu-api" in msg


def test_fake_litert_is_as_strict_as_litert(phones, tflite_fp32):
    """The fake Interpreter refuses a buffer of the wrong byte count with LiteRT's own message."""
    done = subprocess.run(
        ["java", "-cp", str(app_classes()), f"-Dfakephone.bridge.socket={phones.read()['jvm']['bridge_socket']}",
         "org.mobilenet.toolkit.fakephone.StrictnessProbe", "litert-bytes", str(tflite_fp32), "3072"],
        capture_output=True, text=True, timeout=120)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert re.fullmatch(
        r"IllegalArgumentException: Cannot copy to a TensorFlowLite tensor \(\S+\) with 12288 bytes from a Java "
        r"Buffer with 3072 bytes\.\n", done.stdout), done.stdout  # fmt: skip


# ---- the same steps as a shell script (what a device farm's test spec runs) ------------------------------------


def test_the_protocol_as_a_shell_script_runs_on_the_fake_phone(phones, tflite_fp32, tmp_path):
    steps = headless_protocol(tflite_fp32, "farm-1", FAST)
    script = steps.shell_script(local_dir='"$ART"', out_dir='"$OUT"', adb='adb -s "$SERIAL"', poll_s=0.2)
    (tmp_path / "out").mkdir()
    env = {**os.environ, "ART": str(tflite_fp32.parent), "OUT": str(tmp_path / "out"), "SERIAL": "FAKE01"}
    done = subprocess.run(["sh", "-c", script], env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    record = json.loads((tmp_path / "out/farm-1.json").read_text())
    jsonschema.validate(record, SCHEMA)
    assert record["artifact"]["file"] == tflite_fp32.name
    assert not phones.file("FAKE01", steps.result_path).exists()  # cleaned up after the pull
    bad = headless_protocol(tflite_fp32, "farm-2", ProfileConfig(delegate="gpu", iterations=2))
    done = subprocess.run(["sh", "-c", bad.shell_script('"$ART"', '"$OUT"', poll_s=0.2)], env=env,
                          capture_output=True, text=True, timeout=300)  # fmt: skip
    assert done.returncode == 1 and json.loads((tmp_path / "out/farm-2.error.json").read_text())["stage"] == "load"


# ---- the fakes offer exactly the API the stubs mirror from upstream ----------------------------------------------


def _public_api(classpath: Path, names: list[str]) -> dict[str, list[str]]:
    """``javap -public`` per class: its header line mapped to its sorted member signatures."""
    out = subprocess.run(["javap", "-public", "-cp", str(classpath), *names], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    api: dict[str, list[str]] = {}
    header = ""
    for line in out.stdout.splitlines():
        line = line.strip()
        if line.endswith("{"):
            header = line
            api[header] = []
        elif line and line != "}" and not line.startswith("Compiled from"):
            api[header].append(line)
    return {k: sorted(v) for k, v in api.items()}


def test_fake_runtimes_offer_exactly_the_stubbed_upstream_api(tmp_path):
    """A fake with a method the real runtime lacks would let the app call it and pass here, then fail there."""
    src_root = ROOT / "android_demo/stubs/src"
    stubs = tmp_path / "stubs"
    sources = sorted(src_root.rglob("*.java"))
    subprocess.run(["javac", "-nowarn", "-d", str(stubs), *map(str, sources)], check=True, capture_output=True)
    names = [".".join(c.relative_to(stubs).with_suffix("").parts) for c in sorted(stubs.rglob("*.class"))]
    assert len(names) >= 12  # every stubbed class and its public nested classes (Interpreter$Options, ...)
    fake, real = _public_api(app_classes(), names), _public_api(stubs, names)
    assert len(real) == len(names) and all(real.values())
    assert fake == real
