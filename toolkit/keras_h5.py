"""Import Keras MobileNet ``.h5`` weights (the published ImageNet files and anything Keras writes).

Three layouts reach us and all carry the same per-layer groups:

* Keras 2 weights-only files (the published ImageNet ones): root attribute ``layer_names``, each group
  with ``weight_names`` such as ``conv_dw_1/depthwise_kernel:0``.
* Keras 3 legacy weights (``save_weights_to_hdf5_group``): the same, with names like ``conv_dw_1/kernel``.
* Full-model ``.h5`` files: the same groups under ``model_weights``.

Layouts are converted as TF stores them: conv kernels HWIO → OIHW, depthwise H·W·C·1 → C·1·H·W, the
1×1 ``conv_preds`` kernel → a Linear weight, BatchNorm γ/β/mean/var → weight/bias/running stats.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from toolkit.cost import BLOCK_STRIDES
from toolkit.errors import UsageError
from toolkit.models.mobilenet_v1 import ConvBNAct, MobileNetV1

__all__ = ["H5Weights", "load_h5", "read_h5"]

_BN_KEYS = {"gamma": "weight", "beta": "bias", "moving_mean": "running_mean", "moving_variance": "running_var"}

H5Weights = dict[str, dict[str, np.ndarray]]  # layer name → weight basename → array


def _basename(name: str | bytes) -> str:
    name = name.decode() if isinstance(name, bytes) else name
    base = name.split("/")[-1]
    return base.split(":")[0]


def read_h5(path: str | Path) -> H5Weights:
    """All layers' arrays keyed by Keras layer name and weight basename (``kernel``, ``gamma``, ...)."""
    try:
        import h5py
    except ImportError:
        from toolkit._deps import require

        require("h5py")
        raise
    path = Path(path)
    if not path.is_file():
        raise UsageError(f"weights file not found: {path}")
    try:
        with h5py.File(path, "r") as f:
            root = f.get("model_weights", f)
            if not isinstance(root, h5py.Group):
                raise TypeError("model_weights is not a group")
            names = [n.decode() if isinstance(n, bytes) else n for n in root.attrs.get("layer_names", [])]
            names = names or list(root.keys())
            out: H5Weights = {}
            for layer in names:
                if layer not in root:
                    continue
                group = root[layer]
                if not isinstance(group, h5py.Group):  # a layer is a group of arrays, never one array
                    continue
                weight_names = list(group.attrs.get("weight_names", []))
                if weight_names:
                    arrays = {_basename(w): np.asarray(group[w]) for w in weight_names}
                else:  # no index attribute: walk the datasets below the layer group
                    arrays = {}
                    group.visititems(
                        lambda n, obj, arrays=arrays: (
                            arrays.__setitem__(_basename(n), np.asarray(obj)) if isinstance(obj, h5py.Dataset) else None
                        )
                    )
                if arrays:
                    out[layer] = arrays
    except OSError as e:
        raise UsageError(f"{path} is not a readable HDF5 weights file ({e})") from None
    except (KeyError, TypeError, ValueError, AttributeError) as e:  # valid HDF5, not the Keras layout
        raise UsageError(f"{path} is an HDF5 file but not Keras MobileNet weights ({type(e).__name__}: {e})") from None
    if "conv1" not in out:
        raise UsageError(f"{path} holds no MobileNet weights (no 'conv1' layer); is it a MobileNet V1 .h5?")
    return out


def _kernel(arrays: dict[str, np.ndarray], layer: str) -> np.ndarray:
    for key in ("depthwise_kernel", "kernel"):
        if key in arrays:
            return arrays[key]
    raise UsageError(f"layer {layer} in the .h5 file has no kernel (found {sorted(arrays)})")


def _copy(dst: torch.Tensor, src: np.ndarray, what: str) -> None:
    if tuple(dst.shape) != src.shape:
        raise UsageError(f"{what}: the .h5 has shape {src.shape}, the model expects {tuple(dst.shape)}")
    dst.copy_(torch.from_numpy(np.ascontiguousarray(src, dtype=np.float32)))


def _load_conv_bn(block: ConvBNAct, weights: H5Weights, layer: str, depthwise: bool) -> None:
    if layer not in weights or f"{layer}_bn" not in weights:
        raise UsageError(f"the .h5 file lacks layer {layer} (or {layer}_bn): not a MobileNet V1 file")
    k = _kernel(weights[layer], layer)
    k = k.transpose(2, 3, 0, 1) if depthwise else k.transpose(3, 2, 0, 1)
    _copy(block.conv.weight, k, layer)
    bn = weights[f"{layer}_bn"]
    for keras_key, torch_key in _BN_KEYS.items():
        if keras_key not in bn:
            raise UsageError(f"layer {layer}_bn in the .h5 file lacks {keras_key}")
        _copy(getattr(block.bn, torch_key), bn[keras_key], f"{layer}_bn/{keras_key}")


def _check_alpha(model: MobileNetV1, weights: H5Weights, path: Path) -> None:
    kernel = _kernel(weights["conv1"], "conv1")
    if kernel.ndim != 4:
        raise UsageError(f"{path.name}: conv1's kernel has shape {kernel.shape}, not a 3×3 conv's (H, W, in, out)")
    c = kernel.shape[-1]
    if c != model.conv1.conv.out_channels:
        raise UsageError(
            f"{path.name} was trained for alpha ≈ {c / 32:g} (conv1 has {c} channels), "
            f"but the model has alpha {model.alpha:g} ({model.conv1.conv.out_channels} channels)"
        )


@torch.no_grad()
def load_h5(model: MobileNetV1, path: str | Path, *, include_top: bool = True) -> bool:
    """Copy a Keras MobileNet ``.h5`` into ``model``; returns whether the classifier was loaded.

    With ``include_top=False``, or a ``_no_top`` file, the classifier keeps its current weights (for
    fine-tuning on new classes). A file whose α or class count does not match raises UsageError.
    """
    path = Path(path)
    weights = read_h5(path)
    _check_alpha(model, weights, path)
    _load_conv_bn(model.conv1, weights, "conv1", depthwise=False)
    for i, block in enumerate(model.blocks, start=1):
        _load_conv_bn(block.dw, weights, f"conv_dw_{i}", depthwise=True)
        _load_conv_bn(block.pw, weights, f"conv_pw_{i}", depthwise=False)
    assert len(model.blocks) == len(BLOCK_STRIDES)
    if not include_top or "conv_preds" not in weights:
        return False
    preds = weights["conv_preds"]
    kernel = _kernel(preds, "conv_preds")  # (1, 1, C, classes)
    if kernel.shape[-1] != model.num_classes:
        raise UsageError(
            f"{path.name} has a {kernel.shape[-1]}-class classifier but the model has {model.num_classes}; "
            "pass the matching --num-classes or load without the classifier"
        )
    _copy(model.classifier.weight, kernel.reshape(kernel.shape[-2], kernel.shape[-1]).T, "conv_preds/kernel")
    if "bias" in preds:
        _copy(model.classifier.bias, preds["bias"], "conv_preds/bias")
    return True
