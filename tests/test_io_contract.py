"""The I/O contract every caller follows (toolkit/runtimes/io.py), on real photos and edge values."""

from __future__ import annotations

import numpy as np
import pytest

from toolkit.data import IMAGENET_PREPROCESSING, TF_PREPROCESSING, load_image, sample_image_paths
from toolkit.errors import UsageError
from toolkit.runtimes.io import TensorSpec, decode, encode, encode_pixels


@pytest.mark.parametrize("prep", [TF_PREPROCESSING, IMAGENET_PREPROCESSING], ids=["tf", "imagenet"])
@pytest.mark.parametrize("layout", ["nchw", "nhwc"])
def test_float32_pixels_equal_the_host_preprocessing(prep, layout):
    """The crop → normalize split reproduces Preprocessing.__call__ bit for bit, in either layout."""
    for path in sample_image_paths():
        image = load_image(path)
        ref = prep(image, 128)
        shape = (1, 3, 128, 128) if layout == "nchw" else (1, 128, 128, 3)
        got = encode_pixels(prep.crop(image, 128), TensorSpec("float32", shape, layout), prep.mean, prep.std)[0]
        assert np.array_equal(got, ref if layout == "nchw" else ref.transpose(1, 2, 0))


def test_int8_rounds_half_to_even_and_saturates():
    spec = TensorSpec("int8", (1, 6), "nchw", scale=0.5, zero_point=-3)
    x = np.array([[0.25, 0.75, -0.25, 1000.0, -1000.0, 1.0]], np.float32)
    # 0.25/0.5 = 0.5 → 0 (even), 0.75/0.5 = 1.5 → 2, -0.5 → -0; then + zero point, clamped to [-128, 127]
    assert encode(x, spec).tolist() == [[-3, -1, -3, 127, -128, -1]]
    assert decode(np.array([[-3, 127]], np.int8), TensorSpec("int8", (1, 2), None, 0.5, -3)).tolist() == [[0.0, 65.0]]


def test_uint8_and_float16():
    u = TensorSpec("uint8", (1, 3), "nhwc", scale=1 / 255, zero_point=0)
    assert encode(np.array([[0.0, 0.5, 2.0]], np.float32), u).tolist() == [[0, 127, 255]]  # 0.5 / f32(1/255) < 127.5
    h = TensorSpec("float16", (1, 2), "nchw")
    out = encode(np.array([[1.0 + 2**-11, 65520.0]], np.float32), h)  # a tie rounds to even; overflow → inf
    assert out.dtype == np.float16 and out[0, 0] == 1.0 and np.isinf(out[0, 1])


def test_image_layout_takes_pixels_unchanged():
    rgb = np.arange(2 * 2 * 3, dtype=np.uint8).reshape(2, 2, 3)
    spec = TensorSpec("uint8", (1, 3, 2, 2), "image")
    assert np.array_equal(encode_pixels(rgb, spec, (0.5,) * 3, (0.5,) * 3), rgb)


def test_manifest_round_trip_and_bad_specs():
    manifest = {"input": {"shape": [1, 8, 8, 3], "layout": "nhwc", "dtype": "int8",
                          "quantization": {"scale": 0.02, "zero_point": 1}},
                "output": {"shape": [1, 10], "dtype": "float32", "kind": "logits"}}  # fmt: skip
    spec = TensorSpec.from_manifest(manifest, "input")
    assert spec.to_manifest() == manifest["input"] and spec.nbytes == 192
    assert TensorSpec.from_manifest(manifest, "output").nbytes == 40
    with pytest.raises(UsageError, match="no quantization"):
        TensorSpec.from_manifest({"input": {"shape": [1, 4], "layout": "nchw", "dtype": "int8"}}, "input")
    with pytest.raises(UsageError, match="needs its quantization"):
        encode(np.zeros((1, 4), np.float32), TensorSpec("int8", (1, 4), "nchw"))
    with pytest.raises(UsageError, match="unsupported tensor dtype"):
        TensorSpec("int4", (1, 4), "nchw")
    with pytest.raises(UsageError, match="layout"):
        TensorSpec("float32", (1, 4), "chw")
    with pytest.raises(UsageError, match="static"):
        TensorSpec.from_manifest({"input": {"shape": ["N", 3, 8, 8], "layout": "nchw"}}, "input")
    with pytest.raises(UsageError, match=r"expects input shape \[1, 4\]"):
        encode(np.zeros((4, 1), np.float32), TensorSpec("float32", (1, 4), "nchw"))
    with pytest.raises(UsageError, match="manifest says float16"):
        decode(np.zeros((1, 4), np.float32), TensorSpec("float16", (1, 4)))


def test_image_inputs_are_uint8_pixels_of_the_declared_size():
    with pytest.raises(UsageError, match="image input takes uint8"):
        TensorSpec("float32", (1, 3, 2, 2), "image")
    with pytest.raises(UsageError, match=r"takes a \[1, 3, 4, 4\] image, got 2x2"):
        encode_pixels(np.zeros((2, 2, 3), np.uint8), TensorSpec("uint8", (1, 3, 4, 4), "image"), (0.5,) * 3, (0.5,) * 3)


def test_labels_file_stays_beside_the_artifact(tmp_path):
    from toolkit.runtimes import labels_file

    artifact = tmp_path / "m.pte"
    assert labels_file(artifact, {"labels_file": "m.pte.labels.txt"}) == tmp_path / "m.pte.labels.txt"
    assert labels_file(artifact, {}) is None
    for bad in ("../labels.txt", "/etc/passwd", "sub/labels.txt", "..", ".", "a\\b"):
        with pytest.raises(UsageError, match="leaves the artifact's folder"):
            labels_file(artifact, {"labels_file": bad})
