"""Core ML compression by spec (Linux has no Core ML runtime): stored bits per weight, file sizes, report."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from quantization.config import QuantConfig
from tests.test_quant_common import digits_model
from toolkit._deps import HAS_COREMLTOOLS, IS_MACOS
from toolkit.errors import UsageError

pytestmark = pytest.mark.skipif(not HAS_COREMLTOOLS, reason="coremltools not installed")


def _weight_bin_bytes(package: Path) -> int:
    """Bytes of the weight blob (model.mil text and metadata are a fixed overhead apart from it)."""
    return sum(p.stat().st_size for p in package.rglob("weight.bin"))


def _convert_fp32(model: torch.nn.Module, example: torch.Tensor):
    """A plain fp32 ML Program to compress (the Core ML exporter wraps the model as an image classifier)."""
    import coremltools as ct

    program = torch.export.export(model.eval(), (example,)).run_decompositions({})
    return ct.convert(
        program, inputs=[ct.TensorType(name="input", shape=tuple(example.shape))], convert_to="mlprogram",
        minimum_deployment_target=ct.target.iOS16, compute_precision=ct.precision.FLOAT32,
    )  # fmt: skip


@pytest.fixture(scope="module")
def fp32_mlmodel(tmp_path_factory):
    mlmodel = _convert_fp32(digits_model(), torch.zeros(1, 3, 32, 32))
    path = tmp_path_factory.mktemp("coreml") / "fp32.mlpackage"
    mlmodel.save(str(path))
    return mlmodel, _weight_bin_bytes(path)


_SLOW = pytest.mark.slow


@pytest.mark.parametrize(
    ("scheme", "bits"), [("int8-weights", 8), pytest.param("palettize-6", 6, marks=_SLOW), ("palettize-4", 4)]
)
def test_compressed_weights_take_their_bit_width(fp32_mlmodel, tmp_path, scheme, bits):
    from quantization.coreml import compress_mlmodel

    mlmodel, fp32_bytes = fp32_mlmodel
    compressed, report = compress_mlmodel(mlmodel, QuantConfig("coreml", scheme))
    assert len(report) == 28  # 27 conv weights + the classifier: every tensor compressed, depthwise included
    big = [r for r in report if r["original_bytes"] and r["original_bytes"] >= 4 * 8192]
    assert big, report
    for row in big:  # LUTs / per-channel scales: ≤ 32·C_out/N bits, under 1 bit from 8192 weights over 128 channels
        assert bits <= row["bits_per_weight"] <= bits + 1.0, row
        assert row["compressed_bytes"] < row["original_bytes"]
    path = tmp_path / f"{scheme}.mlpackage"
    compressed.save(str(path))
    # fp32 storage is 32 bits per weight; the blob shrinks with the bit width (+25% for LUTs, scales and
    # 64-byte alignment, which weigh heavily on this 0.2M-parameter model)
    assert _weight_bin_bytes(path) <= fp32_bytes * bits / 32 * 1.25, (_weight_bin_bytes(path), fp32_bytes)


@pytest.mark.skipif(IS_MACOS, reason="on macOS w8a8 runs (activation calibration needs the Core ML runtime)")
def test_w8a8_off_macos_is_a_usage_error(fp32_mlmodel):
    from quantization.coreml import compress_mlmodel

    with pytest.raises(UsageError, match="macOS"):
        compress_mlmodel(fp32_mlmodel[0], QuantConfig("coreml", "w8a8"))
