"""Build Keras' own MobileNet offline and write it in each .h5 layout the importer must accept."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

os.environ.setdefault("KERAS_BACKEND", "torch")


def keras_mobilenet(alpha: float, resolution: int, seed: int = 0, include_top: bool = True):
    """keras.applications.MobileNet with weights=None, then realistic random weights.

    Keras' own init leaves BatchNorm as the identity and the logits nearly constant. He-scaled kernels,
    random γ/β, and BatchNorm statistics taken from a pass over the real photos (momentum 0) give a model
    that normalizes like a trained one, whose logits differ across photos, so parity is a real test.
    """
    import keras

    keras.utils.set_random_seed(seed)
    model = keras.applications.MobileNet(
        alpha=alpha, input_shape=(resolution, resolution, 3), weights=None, include_top=include_top
    )
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        ws = layer.get_weights()
        if not ws:
            continue
        if layer.name.endswith("_bn"):
            c = ws[0].shape[0]
            layer.set_weights([
                rng.uniform(0.5, 1.5, c), rng.normal(0, 0.2, c), np.zeros(c), np.ones(c)
            ])  # fmt: skip
        else:
            k = ws[0]
            fan_in = int(np.prod(k.shape[:2])) * (1 if "dw" in layer.name else k.shape[2])
            new = [rng.normal(0, np.sqrt(2.0 / fan_in), k.shape)] + [rng.normal(0, 0.01, w.shape) for w in ws[1:]]
            layer.set_weights(new)
    from toolkit.data import sample_images

    for layer in model.layers:
        if layer.name.endswith("_bn"):
            layer.momentum = 0.0
    model(sample_images(resolution).transpose(0, 2, 3, 1), training=True)
    return model


def keras_logits(model, images_nchw: np.ndarray) -> np.ndarray:
    import keras

    sub = keras.Model(model.inputs, model.get_layer("conv_preds").output)
    out = keras.ops.convert_to_numpy(sub(images_nchw.transpose(0, 2, 3, 1)))
    return out.reshape(out.shape[0], -1)


def save_keras3_weights(model, path: Path) -> Path:
    """Keras 3 legacy weights-only layout (`conv_dw_1/kernel`)."""
    import h5py
    from keras.src.legacy.saving import legacy_h5_format

    with h5py.File(path, "w") as f:
        legacy_h5_format.save_weights_to_hdf5_group(f, model)
    return path


def save_full_model(model, path: Path) -> Path:
    """Full-model .h5: the same groups under `model_weights`."""
    import h5py
    from keras.src.legacy.saving import legacy_h5_format

    with h5py.File(path, "w") as f:
        legacy_h5_format.save_model_to_hdf5(model, f)
    return path


def rewrite_as_keras2(src: Path, dst: Path) -> Path:
    """Rename weights the way the published Keras 2 files spell them (`conv_dw_1/depthwise_kernel:0`)."""
    import h5py

    with h5py.File(src, "r") as fin, h5py.File(dst, "w") as fout:
        fout.attrs["layer_names"] = fin.attrs["layer_names"]
        fout.attrs["keras_version"] = b"2.2.4"
        fout.attrs["backend"] = b"tensorflow"
        for layer in fin.attrs["layer_names"]:
            layer = layer.decode() if isinstance(layer, bytes) else layer
            g_in, g_out = fin[layer], fout.create_group(layer)
            names = []
            for w in g_in.attrs["weight_names"]:
                w = w.decode() if isinstance(w, bytes) else w
                base = w.split("/")[-1]
                if layer.startswith("conv_dw_") and not layer.endswith("_bn") and base == "kernel":
                    base = "depthwise_kernel"
                new = f"{layer}/{base}:0"
                g_out.create_dataset(new, data=np.asarray(g_in[w]))
                names.append(new.encode())
            g_out.attrs["weight_names"] = names
    return dst
