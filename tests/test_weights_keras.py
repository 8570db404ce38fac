"""Weight import parity against Keras' own MobileNet on real photos, in every .h5 layout."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from toolkit import mobilenet_v1
from toolkit._deps import HAS_H5PY, HAS_KERAS
from toolkit.data import sample_images
from toolkit.errors import UsageError
from toolkit.variants import published_variants

pytestmark = pytest.mark.skipif(not (HAS_KERAS and HAS_H5PY), reason="keras and h5py needed: pip install '.[keras]'")

FAST = [(0.25, 128), (1.0, 224)]
SLOW = [(v.alpha, v.resolution) for v in published_variants() if (v.alpha, v.resolution) not in FAST]


def _torch_logits(path, alpha: float, res: int, images: np.ndarray) -> np.ndarray:
    model = mobilenet_v1(alpha, res, weights=path)
    with torch.no_grad():
        return model(torch.from_numpy(images)).numpy()


def _assert_parity(ours: np.ndarray, ref: np.ndarray) -> None:
    scale = ref.max() - ref.min()
    assert ref.std(axis=0).mean() > 1e-2 * scale, "reference logits do not vary across photos"
    assert np.abs(ours - ref).max() <= 1e-4 * scale
    top5 = lambda z: np.argsort(-z, axis=1)[:, :5]  # noqa: E731
    assert (top5(ours) == top5(ref)).all()


def _check_variant(alpha: float, res: int, tmp_path) -> None:
    from tests._keras_models import keras_logits, keras_mobilenet, save_keras3_weights

    images = sample_images(res)
    model = keras_mobilenet(alpha, res)
    path = save_keras3_weights(model, tmp_path / f"k3_{alpha}_{res}.h5")
    _assert_parity(_torch_logits(path, alpha, res, images), keras_logits(model, images))


@pytest.mark.parametrize(("alpha", "res"), FAST)
def test_import_parity_fast(alpha, res, tmp_path):
    _check_variant(alpha, res, tmp_path)


@pytest.mark.slow
@pytest.mark.parametrize(("alpha", "res"), SLOW)
def test_import_parity_all_published(alpha, res, tmp_path):
    _check_variant(alpha, res, tmp_path)


def test_keras2_and_full_model_layouts(tmp_path):
    from tests._keras_models import (
        keras_logits,
        keras_mobilenet,
        rewrite_as_keras2,
        save_full_model,
        save_keras3_weights,
    )

    images = sample_images(96)
    model = keras_mobilenet(0.5, 96, seed=3)
    ref = keras_logits(model, images)
    k3 = save_keras3_weights(model, tmp_path / "k3.h5")
    for path in (rewrite_as_keras2(k3, tmp_path / "k2.h5"), save_full_model(model, tmp_path / "full.h5")):
        _assert_parity(_torch_logits(path, 0.5, 96, images), ref)


def test_no_top_file_loads_backbone_only(tmp_path):
    from tests._keras_models import keras_mobilenet, save_keras3_weights

    model = keras_mobilenet(0.25, 64, include_top=False)
    path = save_keras3_weights(model, tmp_path / "notop.h5")
    ours = mobilenet_v1(0.25, 64, weights=path, num_classes=5)
    assert ours.classifier.out_features == 5
    ref = np.asarray(model.get_layer("conv1").get_weights()[0]).transpose(3, 2, 0, 1)
    np.testing.assert_array_equal(ours.conv1.conv.weight.detach().numpy(), ref)


def test_wrong_alpha_file_is_one_clear_error(tmp_path):
    from tests._keras_models import keras_mobilenet, save_keras3_weights

    path = save_keras3_weights(keras_mobilenet(0.5, 64), tmp_path / "a050.h5")
    with pytest.raises(UsageError, match=r"alpha ≈ 0.5 .* alpha 0.25"):
        mobilenet_v1(0.25, 64, weights=path)
