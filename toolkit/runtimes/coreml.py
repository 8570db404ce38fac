"""Core ML on the host: predict on macOS; everywhere, read an ``.mlpackage``'s spec without running it.

coremltools converts and reads specs on any OS, but its prediction engine is the macOS Core ML
framework. :func:`spec_summary` is what Linux can know about a model (inputs, image scale/bias,
outputs, labels, op types, weight dtypes), used by the exporter's static verification.
"""

from __future__ import annotations

import collections
import platform
from pathlib import Path
from typing import Any

import numpy as np

from toolkit._deps import IS_MACOS, require
from toolkit.errors import UsageError
from toolkit.runtimes.base import RuntimeUnavailableError

__all__ = ["COMPUTE_UNITS", "CoreMLRunner", "open_runner", "spec_summary", "stored_weights"]

COMPUTE_UNITS = ("cpu_only", "cpu_and_gpu", "cpu_and_ne", "all")


class CoreMLRunner:
    """A loaded ``.mlpackage`` classifier (macOS only).

    ``run`` takes the normalized NCHW float batch every runner takes, turns it back into the RGB
    pixels the model's ImageType expects (exact: the scale/bias are read from the model itself) and
    returns the classifier's own output, the softmax probabilities, in class order. They are not turned
    into log-probabilities: an fp16 softmax flushes tail probabilities below ~6e-8 to 0, whose log would
    be an arbitrary floor, while the probabilities themselves are exact to fp16 precision.
    """

    name = "coreml"
    # The package ends in ClassifierConfig (classLabel + classLabel_probs): no logits leave Core ML, so
    # verify compares with softmax(reference logits) and classify does not softmax these again.
    output_kind = "probabilities"

    def __init__(self, path: str | Path, compute_units: str | None = None) -> None:
        require("coremltools")
        import coremltools as ct

        self.path = Path(path)
        summary = spec_summary(self.path)
        self.labels: list[str] = summary["labels"]
        self._scale = float(summary["image"]["scale"])
        self._bias = np.asarray(summary["image"]["bias"], dtype=np.float64).reshape(3, 1, 1)
        self._input = summary["inputs"][0]["name"]
        self._probs = summary["probabilities_output"]
        # Default: the fastest units that keep the artifact's own precision (the Neural Engine is fp16-only).
        units = compute_units or ("all" if summary["weights_dtype"] == "float16" else "cpu_and_gpu")
        if units not in COMPUTE_UNITS:
            raise UsageError(f"unknown Core ML compute units {units!r}; choose one of: {', '.join(COMPUTE_UNITS)}")
        self.compute_units = units
        self.version = f"coremltools=={ct.__version__}"
        self._model = ct.models.MLModel(str(self.path), compute_units=getattr(ct.ComputeUnit, units.upper()))

    def run(self, inputs: np.ndarray) -> np.ndarray:
        from PIL import Image

        out = []
        for x in np.asarray(inputs, dtype=np.float64):
            pixels = np.clip(np.rint((x - self._bias) / self._scale), 0, 255).astype(np.uint8)
            probs = self._model.predict({self._input: Image.fromarray(pixels.transpose(1, 2, 0), "RGB")})[self._probs]
            out.append([probs[label] for label in self.labels])
        return np.asarray(out, dtype=np.float32)

    def close(self) -> None:
        self._model = None


def open_runner(path: str | Path, threads: int = 0, compute_units: str | None = None) -> CoreMLRunner:
    """Load on macOS; elsewhere RuntimeUnavailableError. ``threads`` is ignored: Core ML schedules itself.

    ``compute_units``: one of :data:`COMPUTE_UNITS` (``ct.ComputeUnit``); None = all for fp16 packages,
    cpu_and_gpu for fp32 ones (the Neural Engine computes in fp16 only).
    """
    if compute_units is not None and compute_units not in COMPUTE_UNITS:
        raise UsageError(f"unknown Core ML compute units {compute_units!r}; choose one of: {', '.join(COMPUTE_UNITS)}")
    if not IS_MACOS:
        raise RuntimeUnavailableError(
            f"no Core ML runtime on {platform.system() or 'this OS'}: Core ML models run only on macOS/iOS, "
            "so toolkit verify checks an .mlpackage statically here"
        )
    return CoreMLRunner(path, compute_units=compute_units)


def spec_summary(path: str | Path) -> dict[str, Any]:
    """Everything checkable about an ML Program ``.mlpackage`` without running it (any OS)."""
    require("coremltools")
    import coremltools as ct

    try:
        spec = ct.utils.load_spec(str(path))
    except Exception as e:  # coremltools raises bare Exceptions for unreadable packages
        raise UsageError(f"cannot read {Path(path).name} as a Core ML model: {e}") from None
    if spec.WhichOneof("Type") != "mlProgram":
        raise UsageError(f"{Path(path).name} is not an ML Program (found {spec.WhichOneof('Type')})")
    desc = spec.description
    func = spec.mlProgram.functions["main"]
    ops = list(func.block_specializations[func.opset].operations)
    consts = {op.outputs[0].name: op.attributes["val"] for op in ops if op.type == "const"}
    return {
        "spec_version": int(spec.specificationVersion),
        "opset": func.opset,
        "inputs": [_feature(f) for f in desc.input],
        "outputs": [_feature(f) for f in desc.output],
        "label_output": desc.predictedFeatureName,
        "probabilities_output": desc.predictedProbabilitiesName,
        "image": _image_preprocessing(ops, consts, desc.input[0].name if desc.input else ""),
        "labels": _labels(ops),
        "ops": dict(sorted(collections.Counter(op.type for op in ops if op.type != "const").items())),
        "conv_padding": _conv_padding(ops, consts),
        "weights_dtype": _weights_dtype(ops),
        "metadata": {
            "author": desc.metadata.author,
            "license": desc.metadata.license,
            "short_description": desc.metadata.shortDescription,
            "user_defined": dict(desc.metadata.userDefined),
        },
    }


def _feature(f: Any) -> dict[str, Any]:
    kind = f.type.WhichOneof("Type")
    out: dict[str, Any] = {"name": f.name, "type": kind}
    if kind == "imageType":
        cs = f.type.imageType.colorSpace
        out.update(width=int(f.type.imageType.width), height=int(f.type.imageType.height),
                   color_space=type(f.type.imageType).ColorSpace.Name(cs))  # fmt: skip
    elif kind == "dictionaryType":
        out["key_type"] = f.type.dictionaryType.WhichOneof("KeyType")
    return out


def _conv_padding(ops: list[Any], consts: dict[str, Any]) -> dict[str, int]:
    """How many convs pad how: ``{"valid": 22, "custom 0,1,0,1": 5}`` (MIL order: before/after H, then W)."""
    counts: collections.Counter[str] = collections.Counter()
    for op in ops:
        if op.type != "conv":
            continue
        args = {k: v.arguments[0].name for k, v in op.inputs.items() if v.arguments}
        kind = consts[args["pad_type"]].immediateValue.tensor.strings.values[0] if "pad_type" in args else "valid"
        pad = list(consts[args["pad"]].immediateValue.tensor.ints.values) if "pad" in args else []
        counts[kind + (" " + ",".join(map(str, pad)) if kind == "custom" else "")] += 1
    return dict(sorted(counts.items()))


def _scalar_or_list(value: Any) -> list[float]:
    tensor = value.immediateValue.tensor
    return [float(v) for v in tensor.floats.values] or [float(v) for v in tensor.doubles.values]


def _image_preprocessing(ops: list[Any], consts: dict[str, Any], image: str) -> dict[str, Any]:
    """The scale (``mul``) and bias (``add``) coremltools inserts on the image input, in order."""
    scale, bias, current = None, None, image
    for op in ops:
        args = {k: [a.name for a in v.arguments] for k, v in op.inputs.items()}
        if args.get("x") != [current] or op.type not in ("mul", "add"):
            continue
        other = args.get("y", [""])[0]
        if other not in consts:
            break
        if op.type == "mul" and scale is None:
            scale = _scalar_or_list(consts[other])
        elif op.type == "add" and bias is None:
            bias = _scalar_or_list(consts[other])
        current = op.outputs[0].name
    return {"scale": scale[0] if scale and len(scale) == 1 else scale, "bias": bias}


def _labels(ops: list[Any]) -> list[str]:
    for op in ops:
        if op.type == "classify":
            value = op.inputs["classes"].arguments[0].value.immediateValue.list.values
            return [v.immediateValue.tensor.strings.values[0] for v in value]
    return []


def _weights_dtype(ops: list[Any]) -> str:
    """dtype of the weights stored in the blob file: float16, float32, or mixed."""
    import coremltools as ct

    names = ct.proto.MIL_pb2.DataType
    dtypes = {
        names.Name(op.outputs[0].type.tensorType.dataType).lower()
        for op in ops
        if op.type == "const" and op.attributes["val"].WhichOneof("value") == "blobFileValue"
    }
    return dtypes.pop() if len(dtypes) == 1 else ("mixed:" + ",".join(sorted(dtypes)) if dtypes else "none")


def stored_weights(path: str | Path) -> list[tuple[np.ndarray, np.ndarray]]:
    """(weight, bias) of every ``conv`` then ``linear`` op, in program order, as float64 arrays.

    Read from the package's weight blob, so a static check can compare them with the PyTorch model.
    """
    require("coremltools")
    import coremltools as ct
    from coremltools.libmilstoragepython import _BlobStorageReader

    path = Path(path)
    spec = ct.utils.load_spec(str(path))
    func = spec.mlProgram.functions["main"]
    ops = list(func.block_specializations[func.opset].operations)
    consts = {op.outputs[0].name: op.attributes["val"] for op in ops if op.type == "const"}
    reader = _BlobStorageReader(str(path / "Data" / "com.apple.CoreML" / "weights" / "weight.bin"))
    out = []
    for op in ops:
        if op.type in ("conv", "linear"):
            names = [op.inputs[k].arguments[0].name if k in op.inputs else "" for k in ("weight", "bias")]
            w, b = (_const_array(consts[n], reader) if n in consts else np.zeros(0) for n in names)
            out.append((w, b))
    return out


def _const_array(value: Any, reader: Any) -> np.ndarray:
    import coremltools as ct

    t = value.type.tensorType
    shape = [int(d.constant.size) for d in t.dimensions]
    dtype = ct.proto.MIL_pb2.DataType.Name(t.dataType)
    kind = value.WhichOneof("value")
    if kind == "blobFileValue":
        offset = value.blobFileValue.offset
        if dtype == "FLOAT16":
            raw = np.asarray(reader.read_fp16_data(offset), dtype=np.uint16).view(np.float16)
        elif dtype == "FLOAT32":
            raw = np.asarray(reader.read_float_data(offset), dtype=np.float32)
        else:
            raise UsageError(f"unexpected stored weight dtype {dtype}")
    else:
        tensor = value.immediateValue.tensor
        if dtype == "FLOAT16":
            raw = np.frombuffer(tensor.bytes.values, dtype=np.float16)
        else:
            raw = np.asarray(tensor.floats.values, dtype=np.float32)
    return raw.astype(np.float64).reshape(shape)
