"""Golden vectors for the iOS app's I/O contract, built from real tiny exports (α 0.25, ρ 64, 10 classes).

For every artifact kind the toolkit exports for an iPhone, BenchCore (ios_demo/BenchCore) must turn the same
cropped photo into exactly the bytes ``toolkit.runtimes.io`` feeds, and read given output bytes into exactly
the floats it reads. Each case carries the I/O-relevant blocks of a real export's manifest (target,
precision, variant, input, output, preprocessing: volatile fields such as hashes and dates are left out),
so the golden file is the same on every machine and re-exporting cannot silently change what is tested.

Synthetic cases (named ``synthetic-...``) cover the dtypes and layouts the encoder and decoder support but no
iOS export emits today (integer inputs, NHWC, integer outputs); raw outputs are seeded and built without
transcendental functions, so they are bit-identical everywhere. The command lines are the launch contract:
each case holds what the fake iPhone's parser (tests/fake_ios, the app's stand-in) answers, and the Swift
parser must answer the same.

tests/test_ios_golden.py keeps the committed file equal to :func:`build_io_golden` of its own views (fast), and
the views equal to fresh exports' (slow; the .pte ones also in tests/test_ios_device.py); ``ACCEPT=1``
re-exports every kind and re-records the file.
"""

from __future__ import annotations

import base64
import copy
import dataclasses
import hashlib
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
IO_GOLDEN = REPO / "ios_demo/BenchCore/Tests/BenchCoreTests/Resources/io_golden.json"
REGENERATE_IO = "ACCEPT=1 python -m pytest tests/test_ios_golden.py -k io_golden"
ALPHA, RESOLUTION, CLASSES = 0.25, 64, 10
PHOTO = "chelsea_cat"  # the photo the app bundles (ios_demo/App/Resources/sample.png)
CONTRACT_KEYS = ("target", "precision", "variant", "input", "output", "preprocessing")


@dataclass(frozen=True)
class Kind:
    """One artifact kind the toolkit exports for an iPhone."""

    name: str
    target: str
    precision: str
    scheme: str | None = None
    io: str | None = None  # ExportConfig.io; None = the default
    layout: str | None = None  # ExportConfig.layout; None = the target's default (nhwc for ExecuTorch)


KINDS = (
    Kind("coreml-fp32", "coreml", "fp32"),
    Kind("coreml-fp16", "coreml", "fp16"),
    Kind("coreml-int8-weights", "coreml", "int8", scheme="int8-weights"),
    Kind("coreml-palettize-8", "coreml", "int8", scheme="palettize-8"),
    Kind("coreml-palettize-6", "coreml", "int8", scheme="palettize-6"),
    Kind("coreml-palettize-4", "coreml", "int8", scheme="palettize-4"),
    Kind("executorch-fp32", "executorch", "fp32"),
    Kind("executorch-fp32-nchw", "executorch", "fp32", layout="nchw"),
    Kind("executorch-fp16", "executorch", "fp16"),
    Kind("executorch-fp16-io-native", "executorch", "fp16", io="native"),
    Kind("executorch-int8", "executorch", "int8"),
)
# Core ML w8a8 calibrates by running the model: it exports on macOS only, so it has no case here.


def export_dir() -> Path:
    from toolkit.weights import cache_dir

    return cache_dir() / "test-artifacts" / "ios"


def supports(kind: Kind) -> bool:
    """Whether this toolkit can export ``kind`` (an ``io`` or ``layout`` choice needs that ExportConfig field)."""
    from toolkit.export.base import ExportConfig

    fields = {f.name for f in dataclasses.fields(ExportConfig)}
    return (kind.io is None or "io" in fields) and (kind.layout is None or "layout" in fields)


def tiny_model() -> Any:
    from toolkit import mobilenet_v1

    return mobilenet_v1(ALPHA, RESOLUTION, weights="random", num_classes=CLASSES)


def export_kind(kind: Kind, model: Any = None) -> Path:
    """The kind's tiny artifact, exported once into the toolkit cache and reused by the exporter's own key."""
    from toolkit.export.base import ExportConfig
    from toolkit.export.pipeline import export

    model = model if model is not None else tiny_model()
    options = {"scheme": kind.scheme} if kind.scheme else {}
    extra = {k: v for k, v in (("io", kind.io), ("layout", kind.layout)) if v}
    # one folder per kind: a float-I/O and a native-I/O export of one precision share a file name
    cfg = ExportConfig(target=kind.target, precision=kind.precision, output_dir=export_dir() / kind.name,
                       verify=False, options=options, **extra)  # fmt: skip
    return export(model, cfg, progress=False).path


def contract_view(manifest: dict[str, Any]) -> dict[str, Any]:
    """The manifest blocks that decide the app's input bytes and output reading."""
    return {k: copy.deepcopy(manifest[k]) for k in CONTRACT_KEYS}


def _b64(a: np.ndarray | bytes) -> str:
    return base64.b64encode(a if isinstance(a, bytes) else np.ascontiguousarray(a).tobytes()).decode()


def _sha(a: np.ndarray | bytes) -> str:
    return hashlib.sha256(a if isinstance(a, bytes) else np.ascontiguousarray(a).tobytes()).hexdigest()


def crop_key(view: dict[str, Any]) -> str:
    return f"{PHOTO}-r{view['variant']['resolution']}-cf{view['preprocessing']['crop_fraction']}"


def photo_crop(view: dict[str, Any]) -> np.ndarray:
    """Preprocessing.crop of the bundled photo: uint8 RGB, H × W × 3."""
    from toolkit.data import Preprocessing, load_image, sample_image_paths

    path = {p.stem: p for p in sample_image_paths()}[PHOTO]
    return Preprocessing.from_dict(view["preprocessing"]).crop(load_image(path), int(view["variant"]["resolution"]))


def expected_input(view: dict[str, Any]) -> np.ndarray:
    """What toolkit.runtimes.io feeds the model for the photo."""
    from toolkit.data import Preprocessing
    from toolkit.runtimes.io import TensorSpec, encode_pixels

    prep = Preprocessing.from_dict(view["preprocessing"])
    return encode_pixels(photo_crop(view), TensorSpec.from_manifest(view, "input"), prep.mean, prep.std)


def photo_size() -> list[int]:
    """The bundled photo's width and height (the frame's resize starts from them)."""
    from toolkit.data import load_image, sample_image_paths

    return list(load_image({p.stem: p for p in sample_image_paths()}[PHOTO]).size)


def frame_contract(view: dict[str, Any]) -> dict[str, Any]:
    """What the fake app (BenchCore's stand-in) says of a view's input beyond its bytes: the record's description
    of one frame, and the sizes and dim order an ExecuTorch tensor declares for it (or the app's refusal)."""
    from tests.fake_ios import executorch_input, frame_steps
    from toolkit.data import Preprocessing
    from toolkit.runtimes.io import TensorSpec

    spec = TensorSpec.from_manifest(view, "input")
    crop_fraction = Preprocessing.from_dict(view["preprocessing"]).crop_fraction
    steps = frame_steps(*photo_size(), spec, int(view["variant"]["resolution"]), crop_fraction)
    try:
        sizes, order = executorch_input(spec)
        executorch: dict[str, Any] = {"sizes": list(sizes), "dim_order": list(order)}
    except ValueError as e:
        executorch = {"error": str(e)}
    return {"steps": steps, "executorch": executorch}


def raw_output(view: dict[str, Any], labels: list[str], seed: int) -> tuple[dict[str, Any], np.ndarray]:
    """A seeded raw output of the view's kind, and the float32 scores toolkit.runtimes.io reads from it."""
    from toolkit.runtimes.io import TensorSpec, decode

    rng = np.random.default_rng(seed)
    spec = TensorSpec.from_manifest(view, "output")
    if view["output"].get("kind") == "probabilities":  # a Core ML classifier: {label: probability}
        weights = rng.integers(1, 1000, spec.numel)
        probs = [float(w) / float(weights.sum()) for w in weights]  # one IEEE division each: exact everywhere
        raw = {"probabilities": dict(zip(labels, probs, strict=True)), "class_labels": labels}
        return raw, np.asarray(probs, np.float32)  # CoreMLRunner: the dict's values in class order, as float32
    if spec.is_integer:
        info = np.iinfo(spec.dtype)
        t = rng.integers(info.min, info.max + 1, spec.shape).astype(spec.dtype)
    else:
        t = (rng.standard_normal(spec.shape) * 4).astype(np.float32).astype(spec.dtype)
    return {"tensor_b64": _b64(t)}, decode(t, spec)


def _synthetic_views(real: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Every dtype and layout the apps support, from the ExecuTorch fp32 view (no iOS export has these yet);
    each names its layout and shape, whatever the exporter's default."""
    from toolkit.data import IMAGENET_PREPROCESSING

    base = real["executorch-fp32"]
    r = base["variant"]["resolution"]
    nhwc, nchw = [1, r, r, 3], [1, 3, r, r]

    def variant(inp: dict[str, Any], out: dict[str, Any] | None = None, prep: Any = None) -> dict[str, Any]:
        view = copy.deepcopy(base)
        view["input"].update(inp)
        if out:
            view["output"].update(out)
        if prep is not None:
            view["preprocessing"] = prep.to_dict()
        return view

    q8 = {"scale": 0.018658, "zero_point": -3}
    return {
        "synthetic-nhwc-float32-imagenet": variant({"layout": "nhwc", "shape": nhwc}, prep=IMAGENET_PREPROCESSING),
        "synthetic-nhwc-float16": variant({"layout": "nhwc", "shape": nhwc, "dtype": "float16"}),
        "synthetic-nchw-int8": variant({"layout": "nchw", "shape": nchw, "dtype": "int8", "quantization": q8},
                                       {"dtype": "int8", "quantization": {"scale": 0.1171875, "zero_point": 5}}),
        "synthetic-nhwc-uint8-imagenet": variant({"layout": "nhwc", "shape": nhwc, "dtype": "uint8",
                                                  "quantization": {"scale": 0.0173, "zero_point": 114}},
                                                 {"dtype": "uint8", "quantization": {"scale": 0.05, "zero_point": 128}},
                                                 IMAGENET_PREPROCESSING),
        "synthetic-float16-output": variant({}, {"dtype": "float16"}),
    }  # fmt: skip


def _float16_sweep() -> dict[str, Any]:
    """float32 values around every rounding point of float16 (ties, subnormals, overflow) and their halves."""
    exps = np.arange(96, 146, dtype=np.uint32)  # from below the smallest subnormal half to past the largest
    tops = np.array([0, 1, 0x155, 0x2AA, 0x3FE, 0x3FF], np.uint32)
    lows = np.array([0, 1, 0x0FFF, 0x1000, 0x1001, 0x1FFF, 0x0800, 0x17FF], np.uint32)
    bits = ((exps[:, None, None] << 23) | (tops[None, :, None] << 13) | lows[None, None, :]).ravel()
    bits = np.concatenate([bits, bits | 0x80000000, np.array([0x7F800000, 0xFF800000, 0x477FE000, 0x477FF000])])
    x = bits.astype("<u4").view("<f4")
    with np.errstate(over="ignore"):
        halves = x.astype("<f2")
    every_half = np.arange(1 << 16, dtype="<u2").view("<f2").astype("<f4")  # NaNs keep their payload
    return {"float32_b64": _b64(x), "expected_float16_sha256": _sha(halves),
            "all_halves_as_float32_sha256": _sha(every_half)}  # fmt: skip


ARGUMENT_CASES: tuple[list[str], ...] = (
    ["--benchmark", "--model", "m.pte", "--compute-units", "cpu_and_ne", "--threads", "2", "--warmup", "3",
     "--iterations", "50", "--run-id", "r-1.a_b", "--duration", "2.5", "--cooldown", "0"],
    ["App", "-NSDocumentRevisionsDebugMode", "YES", "--", "--benchmark", "--model", "m.mlpackage", "--run-id", "x"],
    ["--benchmark", "--model", "m.pte"],
    ["--benchmark", "--run-id", "r2", "--model", "m.pte", "--iterations", "0"],
    ["--benchmark", "--run-id", "r3", "--model", "../etc/passwd"],
    ["--benchmark", "--run-id", "r4", "--model", "my model.pte"],
    ["--benchmark", "--run-id", "r5", "--model", "m.pte", "--compute-units", "npu"],
    ["--benchmark", "--run-id", "r6", "--model", "m.pte", "--bogus", "1"],
    ["--benchmark", "--run-id", "r7", "--model"],
    ["--benchmark", "--run-id", "r8"],
    ["--benchmark", "--run-id", "r9", "--model", "a.pte", "--model", "b.pte"],
    ["--benchmark", "--run-id", "r10", "--model", "m.pte", "--duration", "0"],
    ["--benchmark", "--run-id", "r11", "--model", ".hidden.pte"],
    ["--benchmark", "--run-id", "r12", "--model", "m.pte", "--threads", "-1"],
    ["--benchmark", "--run-id", "r13", "--model", "m.pte", "--warmup", "1.5"],
    ["--benchmark", "--run-id", "bad id;rm", "--model", "m.pte"],
    ["--benchmark", "--run-id", ".dot", "--model", "m.pte"],
    ["--benchmark", "--run-id", "x" * 129, "--model", "m.pte"],
    ["--benchmark", "--run-id", "x" * 128, "--model", "m.pte", "--cooldown", "-1"],
    ["-AppleLanguages", "(en)"],
)  # fmt: skip


def argument_cases() -> list[dict[str, Any]]:
    """Each command line with the fake app's answer: the parsed arguments, or the error and its file."""
    from tests.fake_ios import AppArgumentError, parse_arguments

    cases = []
    for argv in ARGUMENT_CASES:
        try:
            parsed = parse_arguments(list(argv))
            cases.append({"argv": list(argv), "parsed": parsed})
        except AppArgumentError as e:
            cases.append({"argv": list(argv), "error": str(e), "error_file": f"{e.run_id or 'latest'}.error.txt"})
    return cases


def hash_cases() -> dict[str, Any]:
    """SHA-256 of byte strings around block boundaries, and the toolkit's tree hash of a small package."""
    from toolkit.export.manifest import tree_sha256

    lengths = (0, 1, 3, 55, 56, 63, 64, 65, 119, 120, 1000)
    blobs = [bytes((i * 7 + n) % 256 for i in range(n)) for n in lengths]
    tree = {"Manifest.json": b'{"a": 1}\n', "a-b": b"dash", "a/b": b"slash", "B": b"upper first",
            "Data/com.apple.CoreML/model.mlmodel": b"x" * 70,
            "Data/com.apple.CoreML/weights/weight.bin": bytes(range(256)) * 5}  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "m.mlpackage"
        for rel, data in tree.items():
            (root / rel).parent.mkdir(parents=True, exist_ok=True)
            (root / rel).write_bytes(data)
        tree_hex = tree_sha256(root)
    return {
        "bytes": [{"b64": _b64(b), "sha256": _sha(b)} for b in blobs],
        "tree": {"files": {k: _b64(v) for k, v in tree.items()}, "sha256": tree_hex},
    }


def build_io_golden(views: dict[str, dict[str, Any]], labels: dict[str, list[str]]) -> dict[str, Any]:
    """The golden file from the exported kinds' contract views and labels (``views[kind.name]``)."""
    every = {name: copy.deepcopy(v) for name, v in views.items()}
    every.update(_synthetic_views(views))
    crops, encode, decode_cases = {}, [], []
    for seed, (name, view) in enumerate(sorted(every.items())):
        key = crop_key(view)
        crops.setdefault(key, _b64(photo_crop(view)))
        x = expected_input(view)
        encode.append({"name": name, "view": view, "crop": key, "expected_sha256": _sha(x),
                       "expected_bytes": x.nbytes, "backend": view["target"], **frame_contract(view)})  # fmt: skip
        names = labels.get(name) or labels["executorch-fp32"]
        raw, scores = raw_output(view, names, seed)
        decode_cases.append({"name": name, "view": view, "raw": raw, "expected_f32_b64": _b64(scores.astype("<f4"))})
    return {
        "generated_by": "tests/ios_io_golden.py",
        "regenerate": REGENERATE_IO,
        "views": views,
        "labels": labels,
        "photo_size": photo_size(),
        "crops": crops,
        "encode": encode,
        "decode": decode_cases,
        "float16": _float16_sweep(),
        "arguments": argument_cases(),
        "sha256": hash_cases(),
    }


def exported_views(kinds: tuple[Kind, ...] = KINDS) -> tuple[dict[str, dict[str, Any]], dict[str, list[str]]]:
    """Contract views and labels of the kinds this install can export (exports are cached between runs)."""
    from toolkit.runtimes import labels_file, read_manifest

    views, labels = {}, {}
    model = tiny_model()
    for kind in kinds:
        if not supports(kind):
            continue
        path = export_kind(kind, model)
        manifest = read_manifest(path)
        views[kind.name] = contract_view(manifest)
        lf = labels_file(path, manifest)
        labels[kind.name] = lf.read_text(encoding="utf-8").splitlines() if lf is not None else []
    return views, labels
