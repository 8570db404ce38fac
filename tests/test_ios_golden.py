"""Cross-language golden tests: the iOS app's Swift BenchCore must compute what the Python harness computes.

Python writes the inputs and its own answers to golden JSON files committed under
ios_demo/BenchCore/Tests/BenchCoreTests/Resources/: ``golden.json`` (latency statistics, SplitMix64 draws,
preprocessing of real photos) and ``io_golden.json`` (the I/O contract for every artifact kind the toolkit
exports for an iPhone, from real tiny exports: tests/ios_io_golden.py; plus the launch command lines and the
artifact hash). The Swift tests assert bit-for-bit equality against them and also write their own outputs (and
reports built by the Swift benchmark loop and headless run) to ``BENCHCORE_OUT``, which these tests compare
with Python value by value and validate against the shared result schema. Regenerate a golden file after a
deliberate change with ``ACCEPT=1`` (the commands are below and in each file).

The Swift half runs in a Debian trixie chroot (scripts/swift_test.sh); it needs root and debootstrap, and
skips with the reason otherwise. In CI (root, Debian archive reachable) it runs.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
from pathlib import Path

import jsonschema
import numpy as np
import pytest
from PIL import Image

from tests import ios_io_golden as io_golden
from toolkit.data import IMAGENET_PREPROCESSING, TF_PREPROCESSING, Preprocessing, load_image, sample_image_paths
from toolkit.profile.stats import SplitMix64, summarize

REPO = Path(__file__).resolve().parents[1]
GOLDEN = REPO / "ios_demo/BenchCore/Tests/BenchCoreTests/Resources/golden.json"
SCHEMA = REPO / "toolkit/schemas/result.schema.json"
SCRIPT = REPO / "scripts/swift_test.sh"
REGENERATE = "ACCEPT=1 python -m pytest tests/test_ios_golden.py -k golden_file"


def _sample_sets() -> dict[str, list[float]]:
    """Latency-like sample sets that exercise every branch: n=1, n=2, ties, outliers, odd/even n."""
    rng = np.random.default_rng(20260)
    return {
        "single": [12.5],
        "pair": [3.25, 1.75],
        "ties": [5.0] * 7 + [5.5, 4.5, 5.0],
        "small_odd": [9.81, 10.02, 9.77, 10.4, 9.9],
        "lognormal_100": [round(float(x), 4) for x in rng.lognormal(np.log(8.0), 0.08, 100)],
        "outliers_37": [float(x) for x in np.r_[rng.normal(20.0, 0.5, 34), [55.0, 61.5, 19.0]]],
        "wide_range_250": [float(x) for x in rng.gamma(2.0, 1.5, 250) + 0.3],
    }


def _preprocess_cases() -> list[dict]:
    """Real photos, shrunk so the golden stays small, fed through toolkit.data.Preprocessing."""
    paths = {p.stem: p for p in sample_image_paths()}
    specs = [
        ("cat_tf_nchw", "chelsea_cat", (96, 64), 32, TF_PREPROCESSING, "nchw"),
        ("coffee_imagenet_nhwc_portrait", "coffee", (45, 70), 24, IMAGENET_PREPROCESSING, "nhwc"),
        ("rocket_fullcrop_upscale", "rocket", (20, 30), 28, Preprocessing(crop_fraction=1.0), "nchw"),
    ]
    cases = []
    for name, stem, size, res, prep, layout in specs:
        rgb = Image.open(paths[stem]).convert("RGB").resize(size, Image.BILINEAR)
        rgba = np.asarray(rgb.convert("RGBA"), dtype=np.uint8)
        x = prep(rgb, res)  # float32 CHW
        if layout == "nhwc":
            x = x.transpose(1, 2, 0)
        cases.append({
            "name": name, "width": size[0], "height": size[1], "resolution": res, "layout": layout,
            "preprocessing": prep.to_dict(),
            "rgba_b64": base64.b64encode(rgba.tobytes()).decode(),
            "expected_f32le_b64": base64.b64encode(np.ascontiguousarray(x, "<f4").tobytes()).decode(),
        })  # fmt: skip
    return cases


def build_golden() -> dict:
    rng = SplitMix64(0x5EED)
    return {
        "generated_by": "tests/test_ios_golden.py",
        "regenerate": REGENERATE,
        "splitmix64": {"seed": 0x5EED, "first": [str(rng.next_u64()) for _ in range(8)]},
        "stats": [{"name": k, "samples": v, "expected": summarize(v).to_dict()} for k, v in _sample_sets().items()],
        "preprocess": _preprocess_cases(),
    }


def test_golden_file_is_current() -> None:
    """The committed golden equals what today's Python computes; ACCEPT=1 rewrites it."""
    golden = json.loads(json.dumps(build_golden()))  # tuples become lists, as in the file
    if os.environ.get("ACCEPT") == "1":
        GOLDEN.parent.mkdir(parents=True, exist_ok=True)
        tmp = GOLDEN.with_suffix(".tmp")
        tmp.write_text(json.dumps(golden, indent=1) + "\n", encoding="utf-8")
        tmp.replace(GOLDEN)
    assert GOLDEN.is_file(), f"golden file missing: regenerate it with `{REGENERATE}`"
    committed = json.loads(GOLDEN.read_text(encoding="utf-8"))
    assert committed == golden, f"golden file is stale (Python statistics or preprocessing changed): `{REGENERATE}`"


def test_io_golden_is_current() -> None:
    """The committed I/O golden equals what toolkit.runtimes.io and the fake app compute today from its own
    manifest views; ACCEPT=1 re-exports every kind (cached in the toolkit cache) and re-records it."""
    if os.environ.get("ACCEPT") == "1":
        views, labels = io_golden.exported_views()
        fresh = json.loads(json.dumps(io_golden.build_io_golden(views, labels)))
        tmp = io_golden.IO_GOLDEN.with_suffix(".tmp")
        tmp.write_text(json.dumps(fresh, indent=1) + "\n", encoding="utf-8")
        tmp.replace(io_golden.IO_GOLDEN)
    assert io_golden.IO_GOLDEN.is_file(), f"I/O golden file missing: regenerate it with `{io_golden.REGENERATE_IO}`"
    committed = json.loads(io_golden.IO_GOLDEN.read_text(encoding="utf-8"))
    rebuilt = json.loads(json.dumps(io_golden.build_io_golden(committed["views"], committed["labels"])))
    for key in rebuilt:
        assert committed.get(key) == rebuilt[key], f"io_golden.json [{key}] is stale: `{io_golden.REGENERATE_IO}`"
    expected = {k.name for k in io_golden.KINDS if io_golden.supports(k)}
    assert set(committed["views"]) == expected, (
        f"the golden does not cover every exportable kind: `{io_golden.REGENERATE_IO}`"
    )


@pytest.mark.slow
def test_io_golden_views_match_fresh_exports() -> None:
    """Every kind exported now has the manifest blocks the golden was built from (~2 min on a cold cache)."""
    committed = json.loads(io_golden.IO_GOLDEN.read_text(encoding="utf-8"))
    views, labels = io_golden.exported_views()
    assert views == committed["views"], f"an exporter's manifest changed: `{io_golden.REGENERATE_IO}`"
    assert labels == committed["labels"]


def test_app_sample_photo_is_the_host_photo() -> None:
    """The app bundles chelsea_cat.jpg decoded losslessly: the phone starts from the host's pixels."""
    from tests.fake_ios import SAMPLE_PHOTO

    host = np.asarray(load_image({p.stem: p for p in sample_image_paths()}[io_golden.PHOTO]))
    with Image.open(SAMPLE_PHOTO) as im:
        assert im.format == "PNG" and im.mode == "RGB" and not {"icc_profile", "gamma"} & set(im.info)
        np.testing.assert_array_equal(np.asarray(im), host)


def _chroot_skip_reason() -> str | None:
    if os.name != "posix" or os.geteuid() != 0:
        return "Swift runs in a Debian trixie chroot, which needs root"
    ready = Path(os.environ.get("SWIFT_CHROOT", "/opt/trixie"), ".swift-ready").is_file()
    if not ready and shutil.which("debootstrap") is None and shutil.which("apt-get") is None:
        return "no Swift chroot and neither debootstrap nor apt-get to create one"
    return None


@pytest.fixture(scope="module")
def swift_out(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Runs `swift test` for BenchCore (and `swiftc -parse` on the app) once; returns the Swift outputs."""
    reason = _chroot_skip_reason()
    if reason:
        pytest.skip(reason)
    out = tmp_path_factory.mktemp("benchcore_out")
    proc = subprocess.run(
        ["bash", str(SCRIPT)], env={**os.environ, "BENCHCORE_OUT": str(out)},
        capture_output=True, text=True, timeout=1800,
    )  # fmt: skip
    assert proc.returncode == 0, f"swift_test.sh failed:\n{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}"
    return out


def test_swift_stats_equal_python(swift_out: Path) -> None:
    swift = json.loads((swift_out / "stats_swift.json").read_text())
    cases = _sample_sets()
    assert sorted(swift) == sorted(cases)
    for name, samples in cases.items():
        assert swift[name] == summarize(samples).to_dict(), name  # exact float equality, every field


def test_swift_preprocessing_equals_python(swift_out: Path) -> None:
    swift = json.loads((swift_out / "preprocess_swift.json").read_text())
    for case in _preprocess_cases():
        want = np.frombuffer(base64.b64decode(case["expected_f32le_b64"]), "<f4")
        got = np.frombuffer(base64.b64decode(swift[case["name"]]), "<f4")
        assert got.shape == want.shape, case["name"]
        np.testing.assert_array_equal(got, want, err_msg=case["name"])


@pytest.mark.parametrize("name", ["report.json", "headless_report.json"])
def test_swift_report_validates_against_schema(swift_out: Path, name: str) -> None:
    """The loop's report and the one the headless run writes to Documents/results/ are schema-valid records."""
    report = json.loads((swift_out / name).read_text())
    jsonschema.validate(report, json.loads(SCHEMA.read_text()))
    assert report["device"]["kind"] == "ios"
    assert report["runtime"]["delegate"] in ("cpu_only", "cpu_and_gpu", "cpu_and_ne", "all")
    assert report["runtime"]["version_source"] in ("runtime", "declared")
    assert report["stats"] == summarize(report["latency_ms"]).to_dict()
    assert len(report["latency_ms"]) == report["config"]["iterations"]


def test_swift_input_bytes_equal_python_for_every_kind(swift_out: Path) -> None:
    """Value by value, so a difference says which kind, where and by how much (the Swift test checks hashes)."""
    swift = json.loads((swift_out / "io_encode_swift.json").read_text())
    golden = json.loads(io_golden.IO_GOLDEN.read_text(encoding="utf-8"))
    assert sorted(swift) == sorted(c["name"] for c in golden["encode"])
    for case in golden["encode"]:
        want = io_golden.expected_input(case["view"])
        got = np.frombuffer(base64.b64decode(swift[case["name"]]), want.dtype).reshape(want.shape)
        np.testing.assert_array_equal(
            got.view(f"u{want.itemsize}"), want.view(f"u{want.itemsize}"), err_msg=case["name"]
        )


def test_swift_scores_equal_python_for_every_kind(swift_out: Path) -> None:
    swift = json.loads((swift_out / "io_decode_swift.json").read_text())
    golden = json.loads(io_golden.IO_GOLDEN.read_text(encoding="utf-8"))
    assert sorted(swift) == sorted(c["name"] for c in golden["decode"])
    for case in golden["decode"]:
        want = np.frombuffer(base64.b64decode(case["expected_f32_b64"]), "<u4")
        np.testing.assert_array_equal(np.frombuffer(base64.b64decode(swift[case["name"]]), "<u4"), want, case["name"])


def test_chroot_is_left_unmounted(swift_out: Path) -> None:
    """swift_test.sh's trap unmounts /proc in the chroot, so the next run (or rm -rf) is safe."""
    root = os.path.realpath(os.environ.get("SWIFT_CHROOT", "/opt/trixie"))
    mounts = [line.split()[1] for line in Path("/proc/mounts").read_text().splitlines()]
    assert not [m for m in mounts if m == root or m.startswith(root + "/")]
