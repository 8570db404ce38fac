"""Resumable training state: model, optimizer, RNG and progress in one safe-to-load file.

It holds only tensors, dicts, lists, numbers and strings, written with ``torch.save`` and read back
with ``torch.load(weights_only=True)``, so resuming never unpickles arbitrary objects.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch

from toolkit.errors import UsageError

__all__ = ["load_state", "save_state"]

STATE_VERSION = 1


def save_state(path: Path, model: torch.nn.Module, optimizer: torch.optim.Optimizer, progress: dict[str, Any],
               config: dict[str, Any]) -> Path:  # fmt: skip
    """Write atomically (temp then rename) so a Ctrl-C during the write keeps the previous state."""
    blob = {
        "version": STATE_VERSION,
        "model": {k: v.detach().cpu().clone() for k, v in model.state_dict().items()},
        "optimizer": optimizer.state_dict(),
        "rng_torch": torch.get_rng_state(),
        "progress": json.dumps(progress),
        "config": json.dumps(config),
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    try:
        torch.save(blob, tmp)
        tmp.replace(path)
    finally:  # a second Ctrl-C mid-write leaves the previous state and no partial file
        tmp.unlink(missing_ok=True)
    return path


def load_state(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise UsageError(f"nothing to resume: {path} does not exist (train without --resume first)")
    try:
        blob = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # corrupt or foreign file; pickle raises many types
        raise UsageError(f"cannot read training state {path}: {str(e).splitlines()[0][:200]}") from None
    if not isinstance(blob, dict) or blob.get("version") != STATE_VERSION:
        raise UsageError(f"{path} is not a toolkit training state (version {STATE_VERSION})")
    blob["progress"] = json.loads(blob["progress"])
    blob["config"] = json.loads(blob["config"])
    return blob
