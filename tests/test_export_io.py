"""The I/O contract of exported artifacts: float32 at the edges by default, the compute dtype with ``io="native"``.

Every dtype here is read from the loaded runtime (LiteRT's tensor details, ExecuTorch's method metadata),
not only from the manifest, and float- and native-I/O twins of one model are run on the same photos.
The int8 artifacts are the digits exports of tests/test_export_int8.py (shared per session); fp16 uses
the same trained digits model (α 0.25, ρ 32, 10 classes), so its outputs are far from near-ties.
"""

from __future__ import annotations

import functools
import json
import shutil

import numpy as np
import pytest

from tests.test_export_int8 import int8_export
from tests.test_quant_common import digits_model, digits_split
from toolkit._deps import HAS_EXECUTORCH, HAS_LITERT_TORCH, HAS_ONNXRUNTIME, HAS_TFLITE_INTERPRETER
from toolkit.errors import ToolkitError, UsageError
from toolkit.export import ExportConfig, export
from toolkit.export.manifest import validate_manifest
from toolkit.runtimes import open_runner
from toolkit.runtimes.io import TensorSpec, decode, encode

needs_tflite = pytest.mark.skipif(not (HAS_LITERT_TORCH and HAS_TFLITE_INTERPRETER), reason="needs the tflite extra")
needs_et = pytest.mark.skipif(not HAS_EXECUTORCH, reason="needs the executorch extra")


@functools.cache
def _fp16(io: str):
    from tests._export_helpers import shared_dir

    cfg = ExportConfig(target="executorch", precision="fp16", output_dir=shared_dir() / f"fp16-{io}", io=io)
    return export(digits_model(), cfg, images=digits_split()[2][:24], progress=False)


def _artifact(kind: str, io: str):
    return _fp16(io) if kind == "executorch-fp16" else int8_export(kind.split("-")[0], io=io)


def _photos(layout: str) -> np.ndarray:
    """The bundled photos and 24 held-out digits, preprocessed at the model's 32 px, in ``layout``."""
    from toolkit.data import sample_images

    x = np.concatenate([sample_images(32), digits_split()[2][:24]])
    return np.ascontiguousarray(x.transpose(0, 2, 3, 1) if layout == "nhwc" else x)


def _runtime_specs(path) -> tuple[TensorSpec, TensorSpec]:
    runner = open_runner(path, threads=1)
    try:
        return runner.input_spec, runner.output_spec
    finally:
        runner.close()


DEFAULT = [
    pytest.param("tflite-int8", marks=needs_tflite),
    pytest.param("executorch-fp16", marks=needs_et),
    pytest.param("executorch-int8", marks=needs_et),
]
NATIVE = [pytest.param("tflite-int8", marks=needs_tflite), pytest.param("executorch-fp16", marks=needs_et)]


@pytest.mark.parametrize("kind", DEFAULT)
def test_default_export_takes_and_gives_float32(kind):
    res = _artifact(kind, "float")
    m = res.manifest
    validate_manifest(m)
    inp, out = _runtime_specs(res.path)
    assert (inp.dtype, out.dtype) == ("float32", "float32"), (inp, out)  # what the runtime itself reads
    assert m["input"]["dtype"] == m["output"]["dtype"] == "float32" and m["options"]["io"] == "float"
    assert "quantization" not in m["input"] and "quantization" not in m["output"]
    assert [m["input"]["shape"], m["output"]["shape"]] == [list(inp.shape), list(out.shape)]
    assert m["parity"]["passed"]


@needs_et
def test_fp16_float_io_leaves_exactly_two_casts_outside_xnnpack():
    from tests.test_export_executorch import _program_ops

    casts = {"input": "float32->float16", "output": "float16->float32"}
    for io, expected in (("float", casts), ("native", {})):
        backend = _fp16(io).manifest["backend"]
        assert backend["boundary_casts"] == expected and backend["non_delegated"] == {}
        assert backend["delegated_ops"] + len(expected) == backend["total_ops"]
        operators, delegates = _program_ops(_fp16(io).path)
        assert delegates == ["XnnpackBackend"]
        assert operators == (["dim_order_ops::_to_dim_order_copy"] if expected else [])  # the casts' one kernel
        assert _instructions(_fp16(io).path) == (["KernelCall", "DelegateCall", "KernelCall"] if expected
                                                 else ["DelegateCall"])  # fmt: skip


def _instructions(path) -> list[str]:
    """The program's instruction kinds in execution order: a cast is a KernelCall, XNNPACK a DelegateCall."""
    from executorch.exir._serialize._program import deserialize_pte_binary

    pte = deserialize_pte_binary(path.read_bytes())
    plan = getattr(pte, "program", pte).execution_plan[0]
    return [type(i.instr_args).__name__ for chain in plan.chains for i in chain.instructions]


@pytest.mark.parametrize("kind", NATIVE)
def test_native_io_has_the_compute_dtype_at_the_edges(kind):
    res = _artifact(kind, "native")
    m = res.manifest
    validate_manifest(m)
    inp, out = _runtime_specs(res.path)
    dtype = "int8" if kind == "tflite-int8" else "float16"
    assert (inp.dtype, out.dtype) == (dtype, dtype) and m["options"]["io"] == "native"
    assert m["input"]["dtype"] == m["output"]["dtype"] == dtype
    if dtype == "int8":  # the manifest carries the runtime's own scale and zero point
        for side, spec in (("input", inp), ("output", out)):
            q = m[side]["quantization"]
            assert (q["scale"], q["zero_point"]) == (spec.scale, spec.zero_point) and q["scale"] > 0
    else:
        assert "quantization" not in m["input"] and "quantization" not in m["output"]
    assert m["parity"]["passed"] and m["parity"]["n_images"] > 0


@pytest.mark.parametrize("kind", NATIVE)
def test_float_and_native_io_agree_on_real_photos(kind):
    """The native artifact fed as an app feeds it (manifest encode/decode) gives the float one's scores."""
    from toolkit.runtimes import read_manifest

    f, n = _artifact(kind, "float"), _artifact(kind, "native")
    manifest = read_manifest(n.path)
    in_spec, out_spec = TensorSpec.from_manifest(manifest, "input"), TensorSpec.from_manifest(manifest, "output")
    rf, rn = open_runner(f.path, threads=1), open_runner(n.path, threads=1)
    try:
        x = _photos(manifest["input"]["layout"])
        a = np.concatenate([rf.run_raw(x[i : i + 1]) for i in range(len(x))])
        b = np.concatenate([decode(rn.run_raw(encode(x[i : i + 1], in_spec)), out_spec) for i in range(len(x))])
    finally:
        rf.close(), rn.close()
    assert a.dtype == b.dtype == np.float32 and len(set(a.argmax(1))) > 1
    if kind == "tflite-int8":
        np.testing.assert_array_equal(a, b)  # the same integer graph fed the same int8 input
    else:  # the same fp16 graph; the cast inside rounds as encode() does (nearest, ties to even)
        np.testing.assert_allclose(a, b, rtol=1e-3, atol=1e-3 * float(np.ptp(a)))
        assert (a.argmax(1) == b.argmax(1)).all()


@needs_tflite
def test_float_io_rewrite_is_exact_even_on_rounding_ties():
    """float_io only adds QUANTIZE/DEQUANTIZE with the int8 tensors' own parameters around the same graph.

    On inputs that sit exactly on a rounding tie of ``x / scale``, the QUANTIZE op (XNNPACK) computes
    ``x * (1 / scale)`` and rounds half to even; fed those int8 values the integer graph gives the same
    scores bit for bit. (An app encoding a native model divides, per the I/O contract; the two can differ
    by one step on such ties only, never on the real photos above.)
    """
    f, n = int8_export("tflite", io="float"), int8_export("tflite", io="native")
    rf, rn = open_runner(f.path, threads=1), open_runner(n.path, threads=1)
    try:
        s, zp = np.float32(rn.input_spec.scale), rn.input_spec.zero_point
        rng = np.random.default_rng(0)
        ties = ((rng.integers(-128 - zp, 127 - zp, size=(3, *rn.input_spec.shape[1:])) + 0.5) * s).astype(np.float32)
        for x in ties:
            q = np.clip(np.rint(x * (np.float32(1) / s)) + zp, -128, 127).astype(np.int8)[None]
            np.testing.assert_array_equal(rf.run_raw(x[None]), decode(rn.run_raw(q), rn.output_spec))
    finally:
        rf.close(), rn.close()


# ---- refusals: one line, nothing written ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["-t", "tflite", "--io", "int8"], "unknown I/O contract 'int8'; choose one of: float, native"),
        (["-t", "onnx", "--io", "native"], "onnx fp32 has no --io native (it takes float32 NCHW"),
        (["-t", "onnx", "-p", "int8", "--io", "native"], "onnx int8 has no --io native"),
        (["-t", "coreml", "--io", "native"], "coreml fp16 has no --io native (it takes an RGB image"),
        (["-t", "executorch", "-p", "int8", "--io", "native"], "quantizes inside the XNNPACK delegate); it exists"),
        (["-t", "executorch", "--io", "native"], "executorch fp32 has no --io native"),
        (["-t", "tflite", "-p", "fp16", "--io", "native"], "tflite fp16 has no --io native"),
        (["-t", "tflite", "-p", "int8", "--scheme", "int8-dynamic", "--io", "native"], "tflite int8-dynamic has no"),
        (["-t", "all", "--io", "native"], "no target can export this combination"),
    ],
)
def test_cli_bad_io_is_one_line_and_exit_2(tmp_path, capsys, args, message):
    from toolkit.cli import main

    out = tmp_path / "out"
    code = main(["export", *args, "-a", "0.25", "-r", "32", "-w", "random", "--num-classes", "10", "-o", str(out)])
    err = capsys.readouterr().err
    assert code == 2 and message in " ".join(err.split()), err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert not out.exists() or list(out.iterdir()) == []


@pytest.mark.parametrize(("target", "scheme"), [("onnx", "int8"), ("executorch", "int8"), ("tflite", "int8-dynamic")])
def test_quantize_refuses_native_io_where_it_does_not_exist(tmp_path, target, scheme):
    from tests._export_helpers import model
    from toolkit.export import quantize

    with pytest.raises(UsageError, match=f"{target} {scheme} has no --io native"):
        quantize(model(0.25, 32), target, scheme, None, tmp_path / "m", io="native")
    with pytest.raises(UsageError, match="unknown I/O contract 'int8'"):
        quantize(model(0.25, 32), target, scheme, None, tmp_path / "m", io="int8")
    assert list(tmp_path.iterdir()) == []


@needs_et
def test_changing_io_re_exports_and_each_is_cached(tmp_path):
    src = _fp16("float")
    for p in src.path.parent.glob(src.path.name + "*"):
        shutil.copy2(p, tmp_path / p.name)

    def run(io: str):
        cfg = ExportConfig(target="executorch", precision="fp16", output_dir=tmp_path, io=io)
        return export(digits_model(), cfg, images=digits_split()[2][:24], progress=False)

    assert run("float").cache_hit  # the copied float-I/O artifact is up to date
    native = run("native")
    # the native twin is another file: both stay on disk, each cached under its own key
    assert not native.cache_hit and native.path == tmp_path / src.path.name.replace("-fp16.", "-fp16-io-native.")
    assert native.manifest["cache_key"] != src.manifest["cache_key"] and native.manifest["input"]["dtype"] == "float16"
    assert run("native").cache_hit and run("float").cache_hit


# ---- the declared I/O is checked against the runtime ------------------------------------------------------


@pytest.mark.skipif(not HAS_ONNXRUNTIME, reason="needs the onnx extra")
def test_export_whose_manifest_would_misstate_the_io_fails_and_writes_nothing(tmp_path, monkeypatch):
    from tests._export_helpers import model
    from toolkit.export.onnx import EXPORTER

    real = type(EXPORTER).export

    def lying(self, *args, **kwargs):
        return {**real(self, *args, **kwargs), "input_dtype": "float16"}

    monkeypatch.setattr(type(EXPORTER), "export", lying)
    with pytest.raises(ToolkitError, match=r"declares input float16 \[1, 3, 32, 32\] but the onnxruntime runtime "
                                           r"reads float32 \[1, 3, 32, 32\]"):  # fmt: skip
        export(model(0.25, 32), ExportConfig(target="onnx", output_dir=tmp_path), progress=False)
    assert list(tmp_path.iterdir()) == []


@needs_tflite
def test_verify_feeds_the_manifest_io_and_catches_an_edited_manifest(tmp_path):
    from toolkit.verify import verify_artifact

    src = int8_export("tflite", io="native").path
    for p in src.parent.glob(src.name + "*"):
        shutil.copy2(p, tmp_path / p.name)
    path = tmp_path / src.name
    x = digits_split()[2][:24]
    assert verify_artifact(path, digits_model(), images=x).passed
    manifest_file = tmp_path / (src.name + ".manifest.json")
    m = json.loads(manifest_file.read_text())
    m["input"]["quantization"]["zero_point"] += 1  # an app reading this would feed shifted bytes
    manifest_file.write_text(json.dumps(m))
    with pytest.raises(ToolkitError, match=r"declares input int8 \[1, 32, 32, 3\] \(scale .*, zero point"):
        verify_artifact(path, digits_model(), images=x)


@pytest.mark.skipif(not HAS_ONNXRUNTIME, reason="needs the onnx extra")
def test_schema_ties_quantization_to_integer_dtypes():
    import jsonschema

    from tests._export_helpers import exported

    base = exported("onnx", 0.25, 64).manifest
    q = {"scale": 0.02, "zero_point": 3}
    bad = [
        {"input": {**base["input"], "dtype": "int8"}},  # integer input without its quantization
        {"output": {**base["output"], "dtype": "int8"}},
        {"input": {**base["input"], "quantization": q}},  # float input with a quantization
        {"output": {k: v for k, v in base["output"].items() if k != "dtype"}},  # output dtype is required
    ]
    for change in bad:
        with pytest.raises(jsonschema.ValidationError):
            validate_manifest({**base, **change})
    validate_manifest({**base, "input": {**base["input"], "dtype": "int8", "quantization": q}})
    validate_manifest({**base, "input": {**base["input"], "dtype": "uint8", "layout": "image"}})  # Core ML pixels


@pytest.mark.slow
@needs_tflite
def test_cli_tflite_int8_is_float_in_float_out_by_default(tmp_path, capsys):
    from toolkit.cli import main

    args = ["export", "-t", "tflite", "-p", "int8", "-a", "0.25", "-r", "32", "-w", "random", "--num-classes", "10",
            "--calibration-samples", "6", "-o", str(tmp_path)]  # fmt: skip
    assert main(args) == 0
    (path,) = tmp_path.glob("*.tflite")
    inp, out = _runtime_specs(path)
    assert (inp.dtype, out.dtype, inp.shape) == ("float32", "float32", (1, 32, 32, 3))
