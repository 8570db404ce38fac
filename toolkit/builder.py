"""``mobilenet_v1(...)``: one call from (α, ρ, weights) to a ready model with its metadata attached."""

from __future__ import annotations

from pathlib import Path

import torch

from toolkit.data import TF_PREPROCESSING, Preprocessing, imagenet_labels, sample_images
from toolkit.errors import UsageError
from toolkit.models.mobilenet_v1 import MobileNetV1, init_weights
from toolkit.weights import WeightSource, load_checkpoint, resolve

__all__ = ["calibrate_batchnorm", "mobilenet_v1"]


@torch.no_grad()
def calibrate_batchnorm(model: MobileNetV1, images: torch.Tensor) -> None:
    """Set every BatchNorm's running statistics from real images (one cumulative pass).

    A random model then normalizes each channel like a trained one, so activations have the ranges
    quantization and latency measurements expect, and its logits differ from photo to photo.
    """
    was_training = model.training
    saved = {}
    for m in model.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            saved[m] = m.momentum
            m.reset_running_stats()
            m.momentum = None  # cumulative average over the pass
    model.train()
    # One thread: float reductions then run in one fixed order, so the statistics (and the hash the export
    # cache and `toolkit verify` key on) are bit-identical in every process, whatever its thread count.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        model(images)
    finally:
        torch.set_num_threads(threads)
    for m, momentum in saved.items():
        m.momentum = momentum
    model.train(was_training)


def mobilenet_v1(
    alpha: float = 1.0,
    resolution: int = 224,
    *,
    weights: str | Path | None = None,
    num_classes: int | None = None,
    activation: str = "relu6",
    padding: str = "tf",
    dropout: float = 1e-3,
    seed: int = 0,
) -> MobileNetV1:
    """Build MobileNet V1 at (α, ρ) and load ``weights``; the model is returned in eval mode.

    Args:
        weights: ``None``/``"random"`` (seeded He init, BatchNorm calibrated on the bundled photos),
            ``"imagenet"`` (published Keras weights, downloaded once), or a ``.h5``, ``.safetensors``
            or ``.pt`` path. A checkpoint's own α/ρ/classes must agree with the arguments.
        num_classes: classifier size; defaults to 1000, or the checkpoint's. With ImageNet weights
            and another count, the backbone is loaded and the new head is freshly initialized.

    The model carries ``weight_source``, ``preprocessing`` and ``class_names`` for exporters.
    """
    source = resolve(weights, alpha, resolution, seed=seed)
    meta = source.meta
    if meta is not None:
        _check_meta(meta, alpha, num_classes, source.path)
        num_classes, activation, padding = meta.num_classes, meta.activation, meta.padding
    classes = num_classes or 1000
    torch.manual_seed(seed)
    model = MobileNetV1(alpha, classes, resolution=resolution, activation=activation, padding=padding,
                        dropout=dropout)  # fmt: skip
    init_weights(model, seed)
    preprocessing: Preprocessing = TF_PREPROCESSING
    labels: list[str] | None = imagenet_labels() if classes == 1000 else None
    if source.kind in ("imagenet", "h5"):
        from toolkit.keras_h5 import load_h5

        load_h5(model, source.path, include_top=classes == 1000)
    elif source.kind == "checkpoint":
        state, _ = load_checkpoint(source.path)
        _load_state(model, state, source.path)
        if meta is not None:
            preprocessing = meta.preprocessing
            labels = list(meta.class_names) or labels
    else:
        calibrate_batchnorm(model, torch.from_numpy(sample_images(resolution)))
    model.eval()
    model.weight_source: WeightSource = source  # type: ignore[misc]
    model.preprocessing = preprocessing  # type: ignore[assignment]
    model.class_names = labels or [f"class_{i}" for i in range(classes)]  # type: ignore[assignment]
    return model


def _check_meta(meta, alpha: float, num_classes: int | None, path: Path | None) -> None:
    if abs(meta.alpha - alpha) > 1e-9:
        raise UsageError(f"{path} is an alpha {meta.alpha:g} checkpoint; pass --alpha {meta.alpha:g}")
    if num_classes is not None and num_classes != meta.num_classes:
        raise UsageError(f"{path} has {meta.num_classes} classes, not {num_classes}")
    # Another resolution is allowed: the network is fully convolutional (accuracy was measured at meta's).


def _load_state(model: MobileNetV1, state: dict, path: Path | None) -> None:
    own = model.state_dict()
    missing = [k for k in own if k not in state]
    unexpected = [k for k in state if k not in own]
    if missing or unexpected:
        raise UsageError(
            f"{path} does not match MobileNet V1 at alpha {model.alpha:g}: "
            f"{len(missing)} missing and {len(unexpected)} unexpected tensors (e.g. {(missing or unexpected)[0]})"
        )
    for k, v in state.items():
        if tuple(v.shape) != tuple(own[k].shape):
            raise UsageError(
                f"{path} does not match alpha {model.alpha:g} with {model.num_classes} classes: "
                f"{k} has shape {tuple(v.shape)}, expected {tuple(own[k].shape)}"
            )
    model.load_state_dict(state)
