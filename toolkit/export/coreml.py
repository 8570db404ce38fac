"""Core ML export: an ML Program ``.mlpackage`` classifier that takes a camera frame as it comes.

The input is an ``ImageType`` (RGB, 0..255 pixels) carrying the model's own scale/bias, so an iOS app
hands Core ML a ``CVPixelBuffer`` and no normalization code; ``ClassifierConfig`` names the classes, and
a softmax inside makes ``classLabel_probs`` real probabilities. coremltools converts on Linux but only
predicts on macOS, so :func:`verify_spec` checks the written spec statically everywhere else.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import torch

from toolkit._deps import require
from toolkit.console import stage
from toolkit.errors import ToolkitError, UsageError
from toolkit.export.base import ExportConfig
from toolkit.export.manifest import package_version
from toolkit.runtimes.base import Runner

__all__ = [
    "EXPORTER",
    "INPUT_NAME",
    "CoreMLExporter",
    "deployment_target",
    "image_scale_bias",
    "verify_spec",
]

INPUT_NAME = "image"
# ML Programs need iOS15 / macOS12 / watchOS8 / tvOS15 or newer (spec version ≥ 6).
_MIN_MLPROGRAM_SPEC = 6
_LICENSES = {"imagenet": "Apache-2.0 (Keras Applications MobileNet weights)", "random": "none (random weights)"}


def deployment_target(name: str) -> Any:
    """``ct.target`` member for ``name`` (case-insensitive); UsageError lists the valid ones."""
    import coremltools as ct

    valid = {k: v for k, v in ct.target.__members__.items() if v.value >= _MIN_MLPROGRAM_SPEC}
    by_lower = {k.lower(): v for k, v in valid.items()}
    if name.lower() not in by_lower:
        raise UsageError(f"unknown Core ML minimum deployment target {name!r}; choose one of: {', '.join(valid)}")
    return by_lower[name.lower()]


def image_scale_bias(preprocessing: Any) -> tuple[float, list[float], bool]:
    """(scale, per-channel bias, normalize_in_graph) for ``ct.ImageType``.

    Core ML's image scale is one scalar: when ``std`` differs per channel (torchvision's ImageNet
    preprocessing) the image goes in as ``pixel / 255`` and the model normalizes as its first op.
    """
    scale = tuple(float(s) for s in preprocessing.scale)
    if max(scale) - min(scale) <= 1e-12 * max(scale):
        return scale[0], [float(b) for b in preprocessing.bias], False
    return 1.0 / 255.0, [0.0, 0.0, 0.0], True


class _Normalize(torch.nn.Module):
    """``(x - mean) / std`` on a [0, 1] RGB input, for preprocessings Core ML's scalar scale can't express."""

    def __init__(self, model: torch.nn.Module, mean: Any, std: Any) -> None:
        super().__init__()
        self.model = model
        self.register_buffer("mean", torch.tensor(mean, dtype=torch.float32).view(1, 3, 1, 1))
        self.register_buffer("inv_std", 1.0 / torch.tensor(std, dtype=torch.float32).view(1, 3, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model((x - self.mean) * self.inv_std)


class _Probabilities(torch.nn.Module):
    """Softmax on the logits: Core ML's classifier reports its input as the probabilities dict."""

    def __init__(self, model: torch.nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.softmax(self.model(x), dim=-1)


class CoreMLExporter:
    """torch.export → coremltools ML Program; host runner only on macOS."""

    target = "coreml"
    extension = ".mlpackage"
    precisions = ("fp16", "fp32", "int8")
    natural_precision = "fp16"
    runtime = "coreml"
    layouts = ("image",)  # a platform image (CVPixelBuffer): the model normalizes its pixels itself
    native_io: tuple[str, ...] = ()  # the image input and the classifier's probabilities are the contract
    io_contract = "it takes an RGB image (uint8 pixels, normalized inside) and returns float probabilities"

    def tool_versions(self) -> dict[str, str | None]:
        return {"coremltools": package_version("coremltools")}

    def cache_options(self, cfg: ExportConfig) -> dict[str, Any]:
        # validated here too, so a bad target fails before any work (the pipeline keys the cache first)
        require("coremltools")
        return {"minimum_deployment_target": deployment_target(cfg.minimum_deployment_target).name}

    def export(
        self, model: torch.nn.Module, example: torch.Tensor, cfg: ExportConfig, out_path: Path, precision: str
    ) -> dict[str, Any]:
        """Convert to ``out_path`` (a directory); return the input contract and op counts for the manifest."""
        require("coremltools")
        import coremltools as ct

        from toolkit.export.coreml_padding import pipeline_with_pad_fusion

        target = deployment_target(cfg.minimum_deployment_target)
        prep = _preprocessing(model)
        scale, bias, in_graph = image_scale_bias(prep)
        module: torch.nn.Module = _Normalize(model, prep.mean, prep.std) if in_graph else model
        module = _Probabilities(module).eval()
        stage("tracing")
        with torch.no_grad():
            program = torch.export.export(module, (example,)).run_decompositions({})
        stage("converting")
        rgb = ct.colorlayout.RGB
        image = ct.ImageType(name=INPUT_NAME, shape=tuple(example.shape), scale=scale, bias=bias, color_layout=rgb)
        mlmodel = ct.convert(
            program,
            inputs=[image],
            classifier_config=ct.ClassifierConfig(_class_names(model)),
            convert_to="mlprogram",
            minimum_deployment_target=target,
            compute_precision=ct.precision.FLOAT32 if precision == "fp32" else ct.precision.FLOAT16,
            pass_pipeline=pipeline_with_pad_fusion(),  # the published (0, 1) pads become conv padding
        )
        quant = None
        if precision == "int8":  # compressed weights, fp16 compute (what the Neural Engine runs)
            from quantization import hooks
            from quantization.coreml import compress_mlmodel

            stage("quantizing")
            cal, qcfg = hooks.prepare(model, self.target, cfg.options)
            mlmodel, layers = compress_mlmodel(mlmodel, qcfg, cal)
            quant = hooks.record(qcfg, cal, layers)
        _describe(mlmodel, model, precision if quant is None else f"int8 ({quant['scheme']})", target.name)
        stage("serializing")
        mlmodel.save(str(out_path))
        from toolkit.runtimes.coreml import spec_summary

        findings = spec_summary(out_path)
        r = int(example.shape[-1])
        return {
            "input_layout": "image",
            "input_shape": [1, 3, r, r],
            "input_dtype": "uint8",  # raw 0..255 pixels: layout image, no quantization
            "output_dtype": "float32",  # classLabel_probs: a class → probability dictionary of floats
            "runtime_version": package_version("coremltools"),
            "input_name": INPUT_NAME,
            "image_scale": scale,
            "image_bias": bias,
            "normalize_in_graph": in_graph,
            "output_kind": "probabilities",  # ClassifierConfig: classLabel_probs is the softmax; no logits leave
            "outputs": {"label": "classLabel", "probabilities": "classLabel_probs"},
            "minimum_deployment_target": target.name,
            "spec_version": findings["spec_version"],
            "ops": findings["ops"],
            **({"quantization": quant} if quant is not None else {}),
        }

    def open(self, path: Path, threads: int = 0) -> Runner:
        from toolkit.runtimes.coreml import open_runner

        return open_runner(path, threads=threads)

    def verify_without_runtime(self, path: Path, model: torch.nn.Module, precision: str) -> dict[str, Any]:
        """The pipeline's hook where Core ML cannot predict (Linux): see :func:`verify_spec`."""
        return verify_spec(path, model, precision)


def _preprocessing(model: torch.nn.Module) -> Any:
    from toolkit.data import TF_PREPROCESSING

    return getattr(model, "preprocessing", None) or TF_PREPROCESSING


def _class_names(model: torch.nn.Module) -> list[str]:
    names = list(getattr(model, "class_names", None) or [])
    return names if len(names) == model.num_classes else [f"class_{i}" for i in range(model.num_classes)]


def _describe(mlmodel: Any, model: torch.nn.Module, precision: str, target: str) -> None:
    """Author, license, description and the variant/weights facts an app can read from the model."""
    import toolkit

    source = getattr(model, "weight_source", None)
    kind = getattr(source, "kind", "in-memory")
    mlmodel.author = "mobilenet-toolkit"
    mlmodel.license = _LICENSES.get(kind, "see the weights' own license")
    mlmodel.short_description = (
        f"MobileNet V1 (alpha {model.alpha:g}, {model.resolution}x{model.resolution}, {model.num_classes} classes, "
        f"{precision}): image classifier; weights {getattr(source, 'label', kind)}"
    )
    mlmodel.version = toolkit.__version__
    mlmodel.input_description[INPUT_NAME] = f"RGB image, {model.resolution}x{model.resolution}, 0-255 pixels"
    mlmodel.output_description["classLabel"] = "most likely class"
    mlmodel.output_description["classLabel_probs"] = "probability of every class (softmax)"
    meta = {
        "variant": model.variant.name,
        "alpha": f"{model.alpha:g}",
        "resolution": str(model.resolution),
        "num_classes": str(model.num_classes),
        "precision": precision,
        "minimum_deployment_target": target,
        "weights_kind": kind,
        "weights_source": getattr(source, "label", kind),
        "weights_sha256": getattr(source, "sha256", None) or "",
        "preprocessing": json.dumps(_preprocessing(model).to_dict()),
        "toolkit_version": toolkit.__version__,
    }
    mlmodel.user_defined_metadata.update(meta)


# Ops an ML Program of MobileNet V1 may contain: conv/pad/activation per layer, the ImageType's mul/add,
# fp16 casts, the global pool, the head and the classifier; anything else means the graph changed.
_ALLOWED_OPS = {"conv", "pad", "clip", "relu", "cast", "mul", "add", "sub", "reduce_mean", "avg_pool", "reshape",
                "squeeze", "linear", "matmul", "softmax", "classify"}  # fmt: skip
# Stored weights vs the BN-folded PyTorch ones, relative to each tensor's largest magnitude:
# fp16 rounds to an 11-bit mantissa (≤ 2^-11 ≈ 4.9e-4 of the value); fp32 only reorders the fold's math.
_WEIGHT_TOL = {"fp16": 1e-3, "fp32": 1e-5}
# Compressed weights, decoded, vs the BN-folded torch ones: symmetric int8 per channel is off by at most half a
# step (max|w_c| / 254 ≤ 0.4% of the tensor's max) plus fp16 rounding; a k-means palette has no such bound per
# weight, so n-bit palettes are gated on the tensor's RMS error, measured with margin (docs/quantization.md).
_COMPRESSED_TOL = {"int8-weights": ("max", 6e-3), "w8a8": ("max", 6e-3), "palettize-8": ("rms", 0.02),
                   "palettize-6": ("rms", 0.06), "palettize-4": ("rms", 0.2)}  # fmt: skip
_DECODE_OPS = {"constexpr_affine_dequantize", "constexpr_blockwise_shift_scale", "constexpr_lut_to_dense"}


def verify_spec(path: Path, model: torch.nn.Module, precision: str) -> dict[str, Any]:
    """Check a written ``.mlpackage`` against ``model`` without running it; ToolkitError on a mismatch.

    Checks the image input (size, RGB, scale/bias exactly the preprocessing's), the classifier outputs
    and labels, the stored weight dtype, the op types and counts (27 conv + 1 linear), the metadata, and
    every stored conv/linear weight against the BatchNorm-folded PyTorch weights.
    Returns the findings (JSON-able) for the manifest.
    """
    from toolkit.runtimes.coreml import spec_summary

    s = spec_summary(path)
    r, failures = model.resolution, []
    scale, bias, _ = image_scale_bias(_preprocessing(model))
    image = s["inputs"][0] if len(s["inputs"]) == 1 else {}
    expect_input = {"name": INPUT_NAME, "type": "imageType", "width": r, "height": r, "color_space": "RGB"}
    if image != expect_input:
        failures.append(f"input {s['inputs']} != {expect_input}")
    if s["image"]["scale"] != float(np.float32(scale)) or s["image"]["bias"] != [float(np.float32(b)) for b in bias]:
        failures.append(f"image scale/bias {s['image']} != {scale}, {bias}")
    outputs = {o["name"]: o["type"] for o in s["outputs"]}
    if outputs != {"classLabel": "stringType", "classLabel_probs": "dictionaryType"} or (
        s["label_output"], s["probabilities_output"]) != ("classLabel", "classLabel_probs"):  # fmt: skip
        failures.append(f"outputs {outputs} are not a classifier's classLabel + classLabel_probs")
    if s["labels"] != _class_names(model):
        failures.append(f"class labels differ from the model's ({len(s['labels'])} vs {model.num_classes})")
    dtype = "float32" if precision == "fp32" else "float16"  # int8: the uncompressed rest (biases) is fp16
    if s["weights_dtype"] != dtype:
        failures.append(f"stored weights are {s['weights_dtype']}, expected {dtype} for {precision}")
    meta = s["metadata"]["user_defined"]
    scheme = _scheme(meta, precision)
    failures += _op_failures(s["ops"], getattr(model, "activation", "relu6"), compressed=scheme is not None)
    failures += _padding_failures(s, getattr(model, "padding", "tf"))
    if (meta.get("alpha"), meta.get("resolution")) != (f"{model.alpha:g}", str(r)):
        failures.append(f"metadata alpha/resolution {meta.get('alpha')}/{meta.get('resolution')} != model's")
    measure, limit = _COMPRESSED_TOL[scheme] if scheme is not None else ("max", _WEIGHT_TOL[precision])
    weight_err = _weight_error(Path(path), model, measure, decompress=scheme is not None)
    if not weight_err <= limit:
        failures.append(f"stored weights differ from the model's by {weight_err:.2e} ({measure}; > {limit:.0e})")
    if failures:
        raise ToolkitError(f"{Path(path).name} failed the Core ML spec check: {'; '.join(failures)}")
    return {
        "spec_version": s["spec_version"],
        "input": image,
        "image_scale": s["image"]["scale"],
        "image_bias": s["image"]["bias"],
        "outputs": sorted(outputs),
        "labels": len(s["labels"]),
        "weights_dtype": s["weights_dtype"],
        "ops": s["ops"],
        "max_weight_rel_err": weight_err,  # relative to each tensor's max (``max``) or RMS (``rms``)
        "weight_err_measure": measure,
        "weight_err_limit": limit,
        "checks": [
            "input",
            "image_scale_bias",
            "outputs",
            "labels",
            "weights_dtype",
            "ops",
            "padding",
            "metadata",
            "weights",
        ],
    }


def _scheme(meta: dict[str, str], precision: str) -> str | None:
    """The compression scheme an int8 package was written with (its metadata says ``int8 (scheme)``)."""
    if precision != "int8":
        return None
    text = meta.get("precision", "")
    scheme = text[text.find("(") + 1 : text.find(")")] if "(" in text else ""
    if scheme not in _COMPRESSED_TOL:
        raise ToolkitError(f"int8 Core ML package without a known compression scheme in its metadata ({text!r})")
    return scheme


def _op_failures(ops: dict[str, int], activation: str, compressed: bool = False) -> list[str]:
    out = []
    unexpected = sorted(set(ops) - _ALLOWED_OPS - (_DECODE_OPS if compressed else set()))
    if unexpected:
        out.append(f"unexpected ops {unexpected}")
    decoded = sum(ops.get(op, 0) for op in _DECODE_OPS)
    if compressed and decoded != 28:
        out.append(f"{decoded} compressed weight tensors, expected 28 (27 conv + the classifier)")
    act = "clip" if activation == "relu6" else "relu"
    counts = {"conv": ops.get("conv", 0), "linear/matmul": ops.get("linear", 0) + ops.get("matmul", 0),
              act: ops.get(act, 0), "softmax": ops.get("softmax", 0), "classify": ops.get("classify", 0)}  # fmt: skip
    expected = {"conv": 27, "linear/matmul": 1, act: 27, "softmax": 1, "classify": 1}
    if counts != expected:
        out.append(f"op counts {counts} != {expected}")
    return out


def _padding_failures(s: dict[str, Any], padding: str) -> list[str]:
    """The published (0, 1) pads must live inside the five stride-2 convs, not as ``pad`` ops (coreml_padding)."""
    if padding != "tf":
        return []
    inside = s["conv_padding"].get("custom 0,1,0,1", 0)
    if s["ops"].get("pad", 0) or inside != 5:
        return [f"{s['ops'].get('pad', 0)} pad ops and {inside} (0, 1)-padded convs, expected 0 and 5"]
    return []


def _weight_error(path: Path, model: torch.nn.Module, measure: str = "max", decompress: bool = False) -> float:
    """Largest relative difference (``max``: per weight; ``rms``: per tensor) between stored conv/linear
    weights, decoded first when compressed, and the BN-folded torch ones."""
    from toolkit.runtimes.coreml import stored_weights

    if decompress:
        import tempfile

        import coremltools as ct
        import coremltools.optimize.coreml as cto

        with tempfile.TemporaryDirectory() as d:
            plain = Path(d) / "decoded.mlpackage"
            cto.decompress_weights(ct.models.MLModel(str(path), skip_model_load=True)).save(str(plain))
            stored = stored_weights(plain)
    else:
        stored = stored_weights(path)
    expected = _folded_weights(model)
    if len(stored) != len(expected):
        return math.inf
    worst = 0.0
    for got, want in zip(stored, expected, strict=True):
        for g, w in zip(got, want, strict=True):
            if g.shape != w.shape:
                return math.inf
            if measure == "rms":
                err = float(np.sqrt(np.mean((g - w) ** 2)) / max(float(np.sqrt(np.mean(w**2))), 1e-12))
            else:
                err = float(np.max(np.abs(g - w)) / max(float(np.max(np.abs(w))), 1e-12))
            worst = max(worst, err)
    return worst


def _folded_weights(model: torch.nn.Module) -> list[tuple[np.ndarray, np.ndarray]]:
    """(weight, bias) of every conv with its BatchNorm folded in, then the classifier, in graph order."""
    out = []
    for m in model.modules():
        conv, bn = getattr(m, "conv", None), getattr(m, "bn", None)
        if isinstance(conv, torch.nn.Conv2d) and isinstance(bn, torch.nn.BatchNorm2d):
            s = (bn.weight / torch.sqrt(bn.running_var + bn.eps)).detach().double()
            w = conv.weight.detach().double() * s.view(-1, 1, 1, 1)
            b = bn.bias.detach().double() - bn.running_mean.detach().double() * s
            out.append((w.numpy(), b.numpy()))
    fc = model.classifier
    out.append((fc.weight.detach().double().numpy(), fc.bias.detach().double().numpy()))
    return out


EXPORTER = CoreMLExporter()
