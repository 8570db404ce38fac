"""The Android app's pure-Java core on the JVM: its JUnit 5 suite, and golden tests against Python.

The JUnit tests run once per module (Debian's ``junit5`` console launcher) and each one is reported
as its own pytest test, so the pytest summary counts them. The golden tests feed the same inputs to
Java (``GoldenMain``) and to the toolkit's Python and require the same answers: statistics bit for
bit, normalization within 1e-6, Pillow-compatible resizing, and JSON that validates against the
shared result schema.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from toolkit.data import IMAGENET_PREPROCESSING, TF_PREPROCESSING, load_image, sample_image_paths
from toolkit.profile.stats import summarize
from toolkit.runtimes.io import TensorSpec, decode, encode_pixels

ROOT = Path(__file__).resolve().parents[1]
BENCHCORE = ROOT / "android_demo" / "benchcore"
JUNIT_JAR = Path("/usr/share/java/junit-platform-console-standalone.jar")
SCHEMA = ROOT / "toolkit" / "schemas" / "result.schema.json"
GOLDEN = "org.mobilenet.toolkit.bench.GoldenMain"

pytestmark = pytest.mark.skipif(
    not (shutil.which("javac") and shutil.which("java") and JUNIT_JAR.is_file()),
    reason="needs a JDK and Debian's junit5 (scripts/build_android_apk.sh --deps installs them)",
)


def _discover_junit_tests() -> list[str]:
    """``Class.method`` for every ``@Test`` method in the Java test sources."""
    found = []
    pattern = re.compile(r"@Test\s+(?:@\w+(?:\([^)]*\))?\s+)*void\s+(\w+)\s*\(")
    for src in sorted((BENCHCORE / "src" / "test" / "java").rglob("*Test.java")):
        found += [f"{src.stem}.{m}" for m in pattern.findall(src.read_text(encoding="utf-8"))]
    return found


JUNIT_TESTS = _discover_junit_tests()


@pytest.fixture(scope="module")
def classes(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("benchcore-classes")
    sources = [str(p) for p in sorted(BENCHCORE.joinpath("src").rglob("*.java"))]
    subprocess.run(["javac", "-encoding", "UTF-8", "-d", str(out), "-cp", str(JUNIT_JAR), *sources],
                   check=True, capture_output=True, text=True)  # fmt: skip
    return out


@pytest.fixture(scope="module")
def junit_results(classes: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str | None]:
    """``Class.method`` → None when it passed, else the failure message."""
    reports = tmp_path_factory.mktemp("junit-reports")
    subprocess.run(["java", "-jar", str(JUNIT_JAR), "--class-path", str(classes), "--scan-class-path",
                    "--disable-banner", "--details=none", "--reports-dir", str(reports)],
                   capture_output=True, text=True, timeout=300)  # fmt: skip
    results: dict[str, str | None] = {}
    for xml in reports.glob("*.xml"):
        for case in ET.parse(xml).getroot().iter("testcase"):
            key = f"{case.get('classname', '').rsplit('.', 1)[-1]}.{case.get('name', '').split('(')[0]}"
            bad = case.find("failure") if case.find("failure") is not None else case.find("error")
            skipped = case.find("skipped") is not None
            results[key] = (bad.get("message") or "failed") if bad is not None else ("skipped" if skipped else None)
    return results


def test_junit_suite_found_every_test(junit_results: dict[str, str | None]) -> None:
    assert len(JUNIT_TESTS) >= 25
    assert sorted(junit_results) == sorted(JUNIT_TESTS)


@pytest.mark.parametrize("name", JUNIT_TESTS)
def test_junit(name: str, junit_results: dict[str, str | None]) -> None:
    assert name in junit_results, f"JUnit did not run {name}"
    assert junit_results[name] is None, f"{name}: {junit_results[name]}"


def _java(classes: Path, *args: str) -> str:
    done = subprocess.run(["java", "-cp", str(classes), GOLDEN, *args], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout


def _measured_latencies(n: int = 60) -> list[float]:
    """Real timings (ms) of a small matmul on this host: noisy, tied and skewed like phone samples."""
    rng = np.random.default_rng(0)
    a = rng.standard_normal((96, 96)).astype(np.float32)
    out = []
    for _ in range(n):
        t = time.perf_counter()
        a @ a
        out.append((time.perf_counter() - t) * 1e3)
    return out


SAMPLE_SETS = {
    "one": [4.25],
    "two": [3.0, 1.0],
    "ties": [2.0, 2.0, 2.0, 1.0, 3.0, 2.0, 2.0],
    "lognormal-257": list(np.random.default_rng(7).lognormal(2.0, 0.3, 257)),
    "tiny-and-huge": [1e-9, 1e9, 0.1, 0.2, 0.30000000000000004, 123456.789],
}


@pytest.mark.parametrize("name", [*SAMPLE_SETS, "measured"])
def test_java_stats_equal_python_bit_for_bit(name: str, classes: Path, tmp_path: Path) -> None:
    samples = _measured_latencies() if name == "measured" else [float(x) for x in SAMPLE_SETS[name]]
    path = tmp_path / "samples.txt"
    path.write_text("\n".join(repr(x) for x in samples) + "\n")
    java = json.loads(_java(classes, "stats", str(path)))
    python = summarize(samples).to_dict()
    assert java == python  # every field, exactly (JSON floats round-trip)


def _resized_cropped(image: Image.Image, resolution: int, crop_fraction: float) -> np.ndarray:
    """The uint8 pixels Preprocessing normalizes (its resize + crop steps, verbatim)."""
    w, h = image.size
    scale = resolution / crop_fraction / min(w, h)
    new_w, new_h = max(resolution, round(w * scale)), max(resolution, round(h * scale))
    image = image.resize((new_w, new_h), Image.BILINEAR)
    left, top = (new_w - resolution) // 2, (new_h - resolution) // 2
    return np.asarray(image.crop((left, top, left + resolution, top + resolution)), dtype=np.uint8)


PHOTOS = [p for p in sample_image_paths() if p.stem in ("chelsea_cat", "coffee")]


@pytest.mark.parametrize("layout", ["nchw", "nhwc"])
@pytest.mark.parametrize("photo", PHOTOS, ids=lambda p: p.stem)
def test_java_normalize_equals_python_preprocessing(photo: Path, layout: str, classes: Path, tmp_path: Path) -> None:
    prep = IMAGENET_PREPROCESSING if layout == "nchw" else TF_PREPROCESSING
    res = 96
    image = load_image(photo)
    pixels = _resized_cropped(image, res, prep.crop_fraction)
    python = prep(image, res)  # float32 CHW
    # Guard the premise: these are exactly the pixels toolkit.data normalizes.
    own = (pixels.astype(np.float32) / 255.0 - np.float32(prep.mean)) / np.float32(prep.std)
    np.testing.assert_array_equal(own.transpose(2, 0, 1), python)
    (tmp_path / "in.rgb").write_bytes(pixels.tobytes())
    _java(classes, "normalize", str(tmp_path / "in.rgb"), str(res), layout,
          *map(repr, prep.mean), *map(repr, prep.std), str(tmp_path / "out.f32"))  # fmt: skip
    java = np.fromfile(tmp_path / "out.f32", dtype="<f4")
    expected = python if layout == "nchw" else python.transpose(1, 2, 0)
    assert java.shape == (3 * res * res,)
    assert np.abs(java - expected.reshape(-1)).max() <= 1e-6


@pytest.mark.parametrize("res,crop", [(160, 0.875), (128, 1.0), (33, 0.5)])
def test_java_resize_matches_pillow(res: int, crop: float, classes: Path, tmp_path: Path) -> None:
    image = load_image(PHOTOS[0])
    w, h = image.size
    (tmp_path / "in.rgb").write_bytes(np.asarray(image, dtype=np.uint8).tobytes())
    _java(classes, "resize", str(tmp_path / "in.rgb"), str(w), str(h), str(res), repr(crop), str(tmp_path / "out.rgb"))
    java = np.fromfile(tmp_path / "out.rgb", dtype=np.uint8).reshape(res, res, 3).astype(int)
    pillow = _resized_cropped(image, res, crop).astype(int)
    # A port of Pillow's fixed-point BILINEAR (bit-exact with Pillow 13 on the bundled photos); allow one
    # level for a future Pillow rounding change, but not a different filter.
    diff = np.abs(java - pillow)
    assert diff.max() <= 1 and diff.mean() < 0.01


def test_java_pipeline_on_a_real_photo_close_to_python(classes: Path, tmp_path: Path) -> None:
    """Decode with javax.imageio (the app uses Bitmap) and preprocess per the manifest, end to end."""
    photo = PHOTOS[1]
    manifest = {
        "artifact": {"file": "m.tflite", "format": "tflite", "sha256": "0" * 64},
        "variant": {"name": "mobilenet_v1-a0.25-r128", "alpha": 0.25, "resolution": 128, "num_classes": 1000},
        "input": {"shape": [1, 128, 128, 3], "layout": "nhwc"},
        "output": {"shape": [1, 1000], "kind": "logits"},
        "preprocessing": TF_PREPROCESSING.to_dict(),
    }
    (tmp_path / "m.json").write_text(json.dumps(manifest))
    _java(classes, "pipeline", str(photo), str(tmp_path / "m.json"), str(tmp_path / "out.f32"))
    java = np.fromfile(tmp_path / "out.f32", dtype="<f4").reshape(128, 128, 3)
    python = TF_PREPROCESSING(load_image(photo), 128).transpose(1, 2, 0)
    diff = np.abs(java - python)
    # Two JPEG decoders (libjpeg-turbo vs ImageIO) may differ by a level on some pixels (identical on
    # JDK 17 + Pillow 13); the rest of the pipeline is exact.
    level = 2 / 255  # one 8-bit level in [-1, 1] units
    assert diff.mean() < 0.25 * level and np.quantile(diff, 0.99) <= 2 * level + 1e-6


def test_java_decode_matches_pil_closely(classes: Path, tmp_path: Path) -> None:
    photo = PHOTOS[0]
    w, h = map(int, _java(classes, "decode", str(photo), str(tmp_path / "d.rgb")).split())
    java = np.fromfile(tmp_path / "d.rgb", dtype=np.uint8).reshape(h, w, 3).astype(int)
    pil = np.asarray(load_image(photo)).astype(int)
    assert java.shape == pil.shape
    assert np.abs(java - pil).mean() < 0.5


def test_java_report_validates_against_result_schema(classes: Path, tmp_path: Path) -> None:
    jsonschema = pytest.importorskip("jsonschema")
    samples = _measured_latencies(40)
    (tmp_path / "s.txt").write_text("\n".join(map(repr, samples)))
    manifest = {
        "artifact": {"file": "mobilenet_v1-a0.50-r160-executorch-fp32.pte", "format": "pte", "sha256": "ab" * 32},
        "variant": {"name": "mobilenet_v1-a0.50-r160", "alpha": 0.5, "resolution": 160, "num_classes": 1000},
        "target": "executorch", "precision": "fp32", "delegate": "xnnpack",
        "runtime": {"name": "executorch", "version": "1.5.1"},
        "input": {"shape": [1, 3, 160, 160], "layout": "nchw"},
        "output": {"shape": [1, 1000], "kind": "logits"},
        "preprocessing": TF_PREPROCESSING.to_dict(), "weights": {"kind": "random"},
    }  # fmt: skip
    (tmp_path / "m.json").write_text(json.dumps(manifest))
    _java(classes, "report", str(tmp_path / "s.txt"), str(tmp_path / "m.json"), str(tmp_path / "r.json"))
    record = json.loads((tmp_path / "r.json").read_text())
    jsonschema.validate(record, json.loads(SCHEMA.read_text()))
    assert record["device"]["kind"] == "android"
    assert record["latency_ms"] == samples
    assert record["stats"] == summarize(samples).to_dict()
    assert record["artifact"]["variant"] == "mobilenet_v1-a0.50-r160"


# One case per dtype the I/O contract knows, in both layouts: (input spec, output spec) as a manifest has them.
CODEC_CASES = {
    "float32-nchw": ({"shape": [1, 3, 64, 64], "layout": "nchw", "dtype": "float32"}, {"shape": [1, 10]}),
    "float16-nchw": ({"shape": [1, 3, 64, 64], "layout": "nchw", "dtype": "float16"},
                     {"shape": [1, 10], "dtype": "float16"}),
    "int8-nhwc": ({"shape": [1, 64, 64, 3], "layout": "nhwc", "dtype": "int8",
                   "quantization": {"scale": 0.007808670401573181, "zero_point": 0}},
                  {"shape": [1, 10], "dtype": "int8",
                   "quantization": {"scale": 0.012674307450652122, "zero_point": 3}}),
    "uint8-nhwc": ({"shape": [1, 64, 64, 3], "layout": "nhwc", "dtype": "uint8",
                    "quantization": {"scale": 0.0078125, "zero_point": 128}},
                   {"shape": [1, 10], "dtype": "uint8", "quantization": {"scale": 0.1, "zero_point": 120}}),
}  # fmt: skip


@pytest.mark.parametrize("case", CODEC_CASES)
@pytest.mark.parametrize("prep", [TF_PREPROCESSING, IMAGENET_PREPROCESSING], ids=["tf", "imagenet"])
def test_java_encodes_and_decodes_bit_for_bit_like_the_io_contract(case, prep, classes, tmp_path):
    """benchcore's TensorCodec against toolkit/runtimes/io.py on real photos: identical bytes, identical floats."""
    inp, out = CODEC_CASES[case]
    manifest = {"artifact": {"file": "m.tflite"}, "input": inp, "output": out, "preprocessing": prep.to_dict(),
                "variant": {"name": "v", "alpha": 0.25, "resolution": 64, "num_classes": 10}}  # fmt: skip
    (tmp_path / "m.json").write_text(json.dumps(manifest))
    in_spec, out_spec = TensorSpec.from_manifest(manifest, "input"), TensorSpec.from_manifest(manifest, "output")
    for photo in sample_image_paths():
        rgb = prep.crop(load_image(photo), 64)
        (tmp_path / "in.rgb").write_bytes(np.ascontiguousarray(rgb).tobytes())
        _java(classes, "encode", str(tmp_path / "in.rgb"), str(tmp_path / "m.json"), str(tmp_path / "x.bin"))
        expected = encode_pixels(rgb, in_spec, prep.mean, prep.std)
        assert (tmp_path / "x.bin").read_bytes() == expected.astype(expected.dtype.newbyteorder("=")).tobytes(), photo
    raw = np.random.default_rng(0).integers(0, 256, out_spec.nbytes, dtype=np.uint8).tobytes()
    if out_spec.dtype == "float16":  # finite halves only: a NaN payload is not a score
        raw = np.random.default_rng(0).standard_normal(10).astype(np.float16).tobytes()
    (tmp_path / "y.bin").write_bytes(raw)
    _java(classes, "decode-output", str(tmp_path / "y.bin"), str(tmp_path / "m.json"), str(tmp_path / "y.f32"))
    want = decode(np.frombuffer(raw, np.dtype(out_spec.dtype).newbyteorder("=")).reshape(out_spec.shape), out_spec)
    assert np.array_equal(np.fromfile(tmp_path / "y.f32", dtype="<f4"), want.reshape(-1))


def test_java_half_rounding_equals_numpy(classes, tmp_path):
    """Float to binary16 on every kind of value: normal, subnormal, ties, overflow, signed zero."""
    rng = np.random.default_rng(1)
    bits = rng.integers(0, 2**32, 200_000, dtype=np.uint64).astype(np.uint32)
    x = bits.view(np.float32)
    x = x[np.isfinite(x)]
    edges = np.array([0.0, -0.0, 65504, 65519, 65520, -65520, 2**-24, 2**-25, 3 * 2**-26, 1 + 2**-11, 6e-8, 1e-9],
                     np.float32)  # fmt: skip
    wide = (rng.standard_normal(100_000) * np.exp2(rng.integers(-26, 17, 100_000))).astype(np.float32)
    x = np.concatenate([x, edges, wide])
    x.astype("<f4").tofile(tmp_path / "x.f32")
    _java(classes, "half", str(tmp_path / "x.f32"), str(tmp_path / "x.f16"))
    with np.errstate(over="ignore"):  # overflow to infinity is one of the cases
        want = x.astype(np.float16).view(np.uint16)
    assert np.array_equal(np.fromfile(tmp_path / "x.f16", dtype="<u2"), want)
