"""The manifest written beside every artifact, its cache key, and the small file helpers it needs.

Apps and reports read the manifest, never the file name (STYLE "avoid" #2). Its shape is pinned by
``toolkit/schemas/manifest.schema.json``.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import torch

import toolkit
from toolkit._deps import installed_version
from toolkit.export.base import ExportConfig, Exporter
from toolkit.runtimes import manifest_path
from toolkit.weights import file_sha256, state_sha256

__all__ = [
    "MANIFEST_VERSION",
    "RESERVED_EXTRAS",
    "atomic_write_text",
    "build_manifest",
    "cache_key",
    "declared_io",
    "labels_path",
    "package_version",
    "remove_path",
    "state_sha256",
    "tool_versions",
    "tree_sha256",
    "validate_manifest",
    "write_manifest",
]

MANIFEST_VERSION = 1
# Keys an exporter's extras may set at the manifest's top level; the rest go under "backend".
RESERVED_EXTRAS = (
    "input_layout",
    "input_shape",
    "input_dtype",
    "output_dtype",
    "delegate",
    "runtime_version",
    "quantization",
    "input_quantization",
    "output_quantization",
    "output_kind",  # what the artifact outputs: "logits" (default) or "probabilities" (a Core ML classifier)
)


package_version = installed_version  # the installed release of a distribution, or None


def tool_versions(exporter: Exporter) -> dict[str, str]:
    """toolkit + torch + whatever the exporter says changes its output."""
    versions = {"toolkit": toolkit.__version__, "torch": torch.__version__}
    hook = getattr(exporter, "tool_versions", None)
    if hook is not None:
        versions.update({k: str(v) for k, v in hook().items() if v is not None})
    return versions


def tree_sha256(path: Path) -> str:
    """sha256 of a file, or for a directory (.mlpackage) a hash over its sorted relative paths and file hashes."""
    path = Path(path)
    if path.is_file():
        return file_sha256(path)
    h = hashlib.sha256()
    for f in sorted(p for p in path.rglob("*") if p.is_file()):
        h.update(f"{f.relative_to(path).as_posix()}\0{file_sha256(f)}\n".encode())
    return h.hexdigest()


def tree_size(path: Path) -> int:
    path = Path(path)
    return path.stat().st_size if path.is_file() else sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def _options(exporter: Exporter, cfg: ExportConfig) -> dict[str, Any]:
    """The options this target reads, plus the I/O contract every target honours (``io`` changes the bytes)."""
    hook = getattr(exporter, "cache_options", None)
    if hook is not None:
        return {**hook(cfg), "io": cfg.io}
    return {
        "layout": cfg.layout,
        "dynamic_batch": cfg.dynamic_batch,
        "minimum_deployment_target": cfg.minimum_deployment_target,
        **cfg.options,
        "io": cfg.io,
    }


def cache_key(
    model: torch.nn.Module, exporter: Exporter, cfg: ExportConfig, precision: str, quantization: Any = None
) -> str:
    """Everything that changes the artifact's bytes: weights, variant, classes, target, options, versions.

    ``quantization`` is the int8 recipe and its data fingerprints (:func:`quantization.hooks.cache_options`).
    """
    labels = "\n".join(getattr(model, "class_names", None) or [])
    key = {
        "weights": state_sha256(model),
        "alpha": model.alpha,
        "resolution": model.resolution,
        "num_classes": model.num_classes,
        "activation": getattr(model, "activation", None),
        "padding": getattr(model, "padding", None),
        "labels": hashlib.sha256(labels.encode()).hexdigest(),
        "target": exporter.target,
        "precision": precision,
        "options": _options(exporter, cfg),
        "versions": tool_versions(exporter),
    }
    if quantization is not None:
        key["quantization"] = quantization
    return hashlib.sha256(json.dumps(key, sort_keys=True, default=str).encode()).hexdigest()


def labels_path(artifact: Path) -> Path:
    return artifact.with_name(artifact.name + ".labels.txt")


def _input_shape(model: torch.nn.Module, layout: str, dynamic_batch: bool) -> list[Any]:
    r = model.resolution
    batch: Any = "N" if dynamic_batch else 1
    return [batch, r, r, 3] if layout == "nhwc" else [batch, 3, r, r]


def build_manifest(
    model: torch.nn.Module,
    exporter: Exporter,
    cfg: ExportConfig,
    precision: str,
    final: Path,
    built: Path,
    extras: dict[str, Any],
    key: str,
    *,
    parity: dict[str, Any] | None,
    warnings: list[str],
    export_seconds: float,
) -> dict[str, Any]:
    """The manifest for ``built`` (the temp artifact) as it will be named at ``final``."""
    from toolkit.cost import count

    inp, out = declared_io(model, extras)
    cost = count(model.alpha, model.resolution, model.num_classes)
    source = getattr(model, "weight_source", None)
    weights = source.to_dict() if source is not None else {"kind": "in-memory", "path": None, "sha256": None}
    weights["state_sha256"] = state_sha256(model)
    from toolkit.data import TF_PREPROCESSING

    prep = getattr(model, "preprocessing", None) or TF_PREPROCESSING
    versions = tool_versions(exporter)
    manifest = {
        "schema_version": MANIFEST_VERSION,
        "artifact": {
            "file": final.name,
            "format": exporter.extension.lstrip("."),
            "sha256": tree_sha256(built),
            "size_bytes": tree_size(built),
            "is_directory": built.is_dir(),
        },
        "variant": {
            "name": model.variant.name,
            "alpha": model.alpha,
            "resolution": model.resolution,
            "num_classes": model.num_classes,
        },
        "model": {
            "architecture": "mobilenet_v1",
            "activation": getattr(model, "activation", "relu6"),
            "padding": getattr(model, "padding", "tf"),
        },
        "target": exporter.target,
        "precision": precision,
        "runtime": {"name": exporter.runtime, "version": extras.get("runtime_version")},
        "delegate": extras.get("delegate"),
        "input": inp,
        "output": out,
        "preprocessing": prep.to_dict(),
        "labels_file": labels_path(final).name,
        "weights": weights,
        "cost": {
            "macs": cost.macs,
            "flops": cost.flops,
            "params": cost.params_paper,
            "params_trainable": cost.params_trainable,
        },
        "versions": versions,
        "options": _options(exporter, cfg),
        "backend": {k: v for k, v in extras.items() if k not in RESERVED_EXTRAS},
        "quantization": extras.get("quantization"),
        "parity": parity,
        "verification": _verification(cfg, parity),
        "warnings": warnings,
        "cache_key": key,
        "export_seconds": round(export_seconds, 3),
        "created_utc": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    return json.loads(json.dumps(manifest, allow_nan=False))  # exactly what a reader gets back (lists, not tuples)


def _verification(cfg: ExportConfig, parity: dict[str, Any] | None) -> dict[str, Any] | None:
    """How the parity check ran: the thread count it asked the runtime for (0 = the runtime's default).

    Recorded because a latency or parity figure is only comparable with the thread count beside it;
    None when nothing was verified (``--no-verify``). Not in the cache key: threads never change the bytes.
    """
    return None if parity is None else {"threads": int(cfg.threads)}


def declared_io(model: torch.nn.Module, extras: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """The manifest's ``input`` and ``output`` blocks: what the exporter says its artifact takes and gives.

    The pipeline checks these against the loaded runtime before anything is installed, and verification
    feeds the artifact through them, so an app reading them feeds exactly what was tested.
    """
    layout = extras.get("input_layout", "nchw")
    shape = extras.get("input_shape", _input_shape(model, layout, bool(extras.get("dynamic_batch", False))))
    inp = {"shape": list(shape), "layout": layout, "dtype": extras.get("input_dtype", "float32"), "color": "RGB",
           **_io_quantization(extras, "input")}  # fmt: skip
    out = {"shape": [1, model.num_classes], "dtype": extras.get("output_dtype", "float32"),
           "kind": extras.get("output_kind", "logits"), **_io_quantization(extras, "output")}  # fmt: skip
    return inp, out


def _io_quantization(extras: dict[str, Any], side: str) -> dict[str, Any]:
    """``{"quantization": {scale, zero_point}}`` for an integer input/output (native-I/O TFLite int8), else {}."""
    q = extras.get(f"{side}_quantization")
    return {"quantization": q} if q else {}


def atomic_write_text(path: Path, text: str) -> None:
    """Write ``text`` to a temp file beside ``path`` and rename it over ``path``."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; a manifest is as public as its artifact
        os.replace(tmp, path)
    finally:
        Path(tmp).unlink(missing_ok=True)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_manifest(artifact: Path, manifest: dict[str, Any]) -> Path:
    path = manifest_path(artifact)
    atomic_write_text(path, json.dumps(manifest, indent=2, sort_keys=False) + "\n")
    return path


def remove_path(path: Path) -> None:
    """Delete a file or directory if present (temp artifacts)."""
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


def validate_manifest(manifest: dict[str, Any]) -> None:
    """Check ``manifest`` against ``toolkit/schemas/manifest.schema.json`` (needs jsonschema)."""
    import jsonschema

    schema = json.loads((Path(__file__).parent.parent / "schemas" / "manifest.schema.json").read_text("utf-8"))
    jsonschema.validate(manifest, schema)
