"""Weight sources: published ImageNet ``.h5``, a local ``.h5``, a toolkit checkpoint, or random.

A source is resolved once into a :class:`WeightSource` (what it is, where the file is, its sha256,
the preprocessing and labels it implies); manifests record that, never a guess from a filename.
Checkpoints load without unpickling: ``.safetensors`` directly, ``.pt`` only with ``weights_only=True``.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from toolkit.data import TF_PREPROCESSING, Preprocessing
from toolkit.errors import ToolkitError, UsageError
from toolkit.variants import PUBLISHED_ALPHAS, PUBLISHED_RESOLUTIONS

__all__ = [
    "IMAGENET_BASE_URL",
    "CheckpointMeta",
    "WeightSource",
    "cache_dir",
    "download_record",
    "fetch_imagenet",
    "file_sha256",
    "imagenet_filename",
    "load_checkpoint",
    "resolve",
    "save_checkpoint",
    "state_sha256",
]

IMAGENET_BASE_URL = "https://storage.googleapis.com/tensorflow/keras-applications/mobilenet/"
_ALPHA_TAG = {1.0: "1_0", 0.75: "7_5", 0.5: "5_0", 0.25: "2_5"}
CHECKPOINT_META_KEY = "toolkit"


def cache_dir() -> Path:
    """``$TOOLKIT_CACHE`` or ``~/.cache/mobilenet-toolkit``: downloads and cached artifacts live here."""
    if os.environ.get("TOOLKIT_CACHE"):
        return Path(os.environ["TOOLKIT_CACHE"])
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "mobilenet-toolkit"


def file_sha256(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def state_sha256(model: Any) -> str:
    """Hash of a model's weights (names, shapes, bytes), in a stable order.

    Keyed on tensors rather than a source file, so an in-memory fine-tune or a seeded random model is
    identified as exactly what it is: the export cache keys on it and manifests record it, so an artifact's
    model can be rebuilt and checked.
    """
    import torch

    h = hashlib.sha256()
    for name, tensor in sorted(model.state_dict().items()):
        t = tensor.detach().cpu().contiguous()
        h.update(f"{name}:{t.dtype}:{tuple(t.shape)}".encode())
        h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    return h.hexdigest()


@dataclass(frozen=True)
class CheckpointMeta:
    """What a checkpoint says about itself; fine-tuned models carry their classes and preprocessing."""

    alpha: float
    resolution: int
    num_classes: int
    class_names: tuple[str, ...] = ()
    preprocessing: Preprocessing = TF_PREPROCESSING
    activation: str = "relu6"
    padding: str = "tf"
    extra: dict[str, Any] = field(default_factory=dict)  # training config, metrics, parent weights

    def to_json(self) -> str:
        return json.dumps(
            {
                "alpha": self.alpha,
                "resolution": self.resolution,
                "num_classes": self.num_classes,
                "class_names": list(self.class_names),
                "preprocessing": self.preprocessing.to_dict(),
                "activation": self.activation,
                "padding": self.padding,
                **self.extra,
            }
        )

    @classmethod
    def from_json(cls, text: str) -> CheckpointMeta:
        d = json.loads(text)
        known = {"alpha", "resolution", "num_classes", "class_names", "preprocessing", "activation", "padding"}
        return cls(
            alpha=float(d["alpha"]),
            resolution=int(d["resolution"]),
            num_classes=int(d["num_classes"]),
            class_names=tuple(d.get("class_names", ())),
            preprocessing=Preprocessing.from_dict(d["preprocessing"]) if "preprocessing" in d else TF_PREPROCESSING,
            activation=d.get("activation", "relu6"),
            padding=d.get("padding", "tf"),
            extra={k: v for k, v in d.items() if k not in known},
        )


@dataclass(frozen=True)
class WeightSource:
    """A resolved weight source. ``kind`` is imagenet, h5, checkpoint or random."""

    kind: str
    path: Path | None = None
    sha256: str | None = None
    seed: int | None = None
    meta: CheckpointMeta | None = None

    @property
    def label(self) -> str:
        """Short human description for manifests and reports."""
        if self.kind == "random":
            return f"random (seed {self.seed}; latency only, predictions are meaningless)"
        return f"{self.kind}:{self.path.name}" if self.path else self.kind

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "path": str(self.path) if self.path else None, "sha256": self.sha256,
                "seed": self.seed, "label": self.label}  # fmt: skip


def imagenet_filename(alpha: float, resolution: int, include_top: bool = True) -> str:
    """Keras' file name; a ρ without published weights falls back to 224, as Keras does."""
    if alpha not in _ALPHA_TAG:
        raise UsageError(
            f"ImageNet weights exist only for alpha in {', '.join(f'{a:g}' for a in PUBLISHED_ALPHAS)}; "
            f"got {alpha:g}: use --weights random, a checkpoint, or train one"
        )
    res = resolution if resolution in PUBLISHED_RESOLUTIONS else 224
    return f"mobilenet_{_ALPHA_TAG[alpha]}_{res}_tf{'' if include_top else '_no_top'}.h5"


def _verify_h5(path: Path) -> None:
    from toolkit.keras_h5 import read_h5

    read_h5(path)  # raises UsageError on anything that is not a MobileNet .h5


def fetch_imagenet(alpha: float, resolution: int, include_top: bool = True, progress: bool = True) -> Path:
    """Download a published ``.h5`` once into the cache (temp file → verify → rename) and return it.

    The first download records the file's sha256 and size beside it (``<file>.sha256.json``); every later
    use checks the file against that record and refuses a changed one (ToolkitError naming the command that
    clears it), so a truncated or swapped file in the cache is never loaded as the published weights.
    """
    return _imagenet(alpha, resolution, include_top, progress)[0]


def _imagenet(alpha: float, resolution: int, include_top: bool = True, progress: bool = True) -> tuple[Path, str]:
    """(path, sha256) of the cached published ``.h5``, downloaded first if absent, checked against its record."""
    name = imagenet_filename(alpha, resolution, include_top)
    target = cache_dir() / "weights" / name
    if target.is_file():
        return target, _check_download(target)
    url = IMAGENET_BASE_URL + name
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=name, suffix=".part", dir=target.parent)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=30) as resp:
            total = int(resp.headers.get("Content-Length") or 0)
            _copy_with_progress(resp, out, total, f"downloading {name}", progress)
        _verify_h5(tmp)
        sha = file_sha256(tmp)
        _write_record(target, sha, tmp.stat().st_size, url)
        tmp.replace(target)
    except (urllib.error.URLError, OSError, TimeoutError) as e:
        raise ToolkitError(
            f"cannot download {url} ({getattr(e, 'reason', e)}); download it elsewhere and pass --weights PATH"
        ) from None
    finally:
        tmp.unlink(missing_ok=True)
    return target, sha


def download_record(target: Path) -> Path:
    """Where the sha256 and size of a downloaded file are recorded: beside it."""
    return target.with_name(target.name + ".sha256.json")


def _write_record(target: Path, sha: str, size: int, url: str | None) -> None:
    record = download_record(target)
    tmp = record.with_name(f".{record.name}.{os.getpid()}")
    tmp.write_text(json.dumps({"file": target.name, "sha256": sha, "size": size, "url": url}, indent=1) + "\n")
    tmp.replace(record)


def _check_download(target: Path) -> str:
    """The sha256 of a cached download, after checking its size and hash against the record of its download.

    A file cached before records were kept is checked as a MobileNet ``.h5`` once and recorded then.
    """
    import shlex

    record = download_record(target)
    size = target.stat().st_size
    try:
        expected = json.loads(record.read_text())
    except FileNotFoundError:
        _verify_h5(target)
        sha = file_sha256(target)
        _write_record(target, sha, size, None)
        return sha
    except (OSError, ValueError):
        expected = {}
    sha = file_sha256(target) if expected.get("size") == size else None
    if sha is None or sha != expected.get("sha256"):
        got = f"{size} bytes" + (f", sha256 {sha[:12]}…" if sha else "")
        want = f"{expected.get('size')} bytes, sha256 {str(expected.get('sha256'))[:12]}…"
        clear = f"rm {shlex.quote(str(target))} {shlex.quote(str(record))}"
        raise ToolkitError(
            f"the cached {target.name} changed since it was downloaded ({got}; recorded {want}); "
            f"clear it and download it again: {clear}"
        )
    return sha


def _copy_with_progress(src: Any, dst: Any, total: int, description: str, progress: bool) -> None:
    from rich.progress import Progress

    with Progress(disable=not progress, transient=True) as bar:
        task = bar.add_task(description, total=total or None)
        while chunk := src.read(1 << 16):
            dst.write(chunk)
            bar.advance(task, len(chunk))


def resolve(spec: str | Path | None, alpha: float, resolution: int, *, seed: int = 0) -> WeightSource:
    """Turn ``--weights`` (imagenet, random, or a path) into a WeightSource; downloads ImageNet if needed."""
    if spec is None or str(spec) == "random":
        return WeightSource("random", seed=seed)
    if str(spec) == "imagenet":
        path, sha = _imagenet(alpha, resolution)
        return WeightSource("imagenet", path, sha)
    path = Path(spec).expanduser()
    if not path.is_file():
        raise UsageError(f"weights not found: {spec} (expected imagenet, random, or a .h5/.safetensors/.pt file)")
    suffix = path.suffix.lower()
    if suffix in (".h5", ".hdf5", ".keras"):
        return WeightSource("h5", path, file_sha256(path))
    if suffix in (".safetensors", ".pt", ".pth"):
        _, meta = load_checkpoint(path)
        return WeightSource("checkpoint", path, file_sha256(path), meta=meta)
    raise UsageError(f"unknown weights file type {suffix!r}: use .h5, .safetensors or .pt")


def save_checkpoint(state_dict: dict[str, Any], meta: CheckpointMeta, path: str | Path) -> Path:
    """Write weights + metadata as one ``.safetensors`` file, atomically."""
    from safetensors.torch import save_file

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tensors = {k: v.detach().contiguous().cpu() for k, v in state_dict.items()}
    try:
        save_file(tensors, str(tmp), metadata={CHECKPOINT_META_KEY: meta.to_json()})
        tmp.replace(path)
    finally:  # a Ctrl-C mid-write leaves the previous checkpoint and no partial file
        tmp.unlink(missing_ok=True)
    return path


def load_checkpoint(path: str | Path) -> tuple[dict[str, Any], CheckpointMeta | None]:
    """Read a checkpoint without executing code: safetensors, or torch.load(weights_only=True)."""
    import torch

    path = Path(path)
    try:
        if path.suffix.lower() == ".safetensors":
            from safetensors import safe_open

            with safe_open(str(path), framework="pt") as f:
                meta_text = (f.metadata() or {}).get(CHECKPOINT_META_KEY)
                state = {k: f.get_tensor(k) for k in f.keys()}  # noqa: SIM118 - safe_open has no __iter__
            return state, CheckpointMeta.from_json(meta_text) if meta_text else None
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # safetensors/pickle raise many types on corrupt input
        raise UsageError(f"cannot read checkpoint {path}: {str(e).splitlines()[0][:200]}") from None
    if isinstance(obj, dict):
        meta = obj.get("meta")
        for key in ("state_dict", "model"):
            if isinstance(obj.get(key), dict):
                obj = obj[key]
                break
        meta_obj = CheckpointMeta.from_json(meta) if isinstance(meta, str) else None
        return {k: v for k, v in obj.items() if isinstance(v, torch.Tensor)}, meta_obj
    raise UsageError(f"{path} does not hold a state dict")
