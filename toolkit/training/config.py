"""``TrainConfig``: every knob of a training run, validated on construction and stored in checkpoints."""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

from toolkit.errors import UsageError
from toolkit.variants import validate_alpha, validate_resolution

__all__ = ["OPTIMIZERS", "SCHEDULES", "TrainConfig", "default_workers"]

OPTIMIZERS = ("rmsprop", "sgd")
SCHEDULES = ("cosine", "exponential", "constant")


def default_workers() -> int:
    """DataLoader workers sized to the machine: min(4, CPUs); 0 (main process) on one CPU."""
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return 0 if cpus <= 1 else min(4, cpus)


@dataclass(frozen=True)
class TrainConfig:
    """A training, fine-tuning or distillation run.

    Defaults follow the paper (§3.2) and TF-slim's ``train_image_classifier.py``: RMSProp with decay
    0.9 and momentum 0.9, weight decay 4e-5 except on depthwise filters, BatchNorm and biases, no
    label smoothing, light augmentation. ``eps`` differs on purpose: TF adds ε *inside* the square
    root and uses 1.0, which floors the denominator at 1 and makes RMSProp plain momentum SGD for the
    small gradients of a trained net; PyTorch adds ε *after* the root, and 1e-3 there keeps the
    per-weight normalization that makes RMSProp worth using. The running mean of g² starts at one, as
    in TF (:func:`toolkit.training.recipe.make_optimizer`), not at PyTorch's zero.
    """

    data: Path
    alpha: float = 1.0
    resolution: int = 224
    weights: str = "imagenet"
    output: Path = Path("checkpoint.safetensors")
    epochs: int = 10
    batch_size: int = 32
    lr: float | None = None  # None: 0.01 × batch/32 (RMSProp, slim), 0.045 × batch/64 (SGD); ×0.1 when fine-tuning
    optimizer: str = "rmsprop"
    momentum: float = 0.9
    rmsprop_decay: float = 0.9
    eps: float = 1e-3
    weight_decay: float = 4e-5
    label_smoothing: float = 0.0
    schedule: str = "cosine"
    warmup_epochs: float = 0.5
    min_crop_area: float = 0.25
    hflip: bool = True
    val_split: float = 0.2
    freeze_backbone_epochs: int = 0
    reset_head: bool = False  # a fresh classifier even when the checkpoint's classes match the data's
    teacher: str | None = None
    teacher_weights: str | None = None
    distill_temperature: float = 4.0
    distill_weight: float = 0.7  # share of the soft-target loss; the rest is hard-label cross-entropy
    max_time: float | None = None  # seconds; stops after the current step and saves
    seed: int = 0
    workers: int | None = None
    threads: int | None = None  # torch intra-op threads (process-wide); None keeps torch's default
    channels_last: bool = True  # NHWC: 1.3-1.6× faster training on CPU (benchmarks/bench_train.py)
    resume: bool = False
    progress: bool = True

    def __post_init__(self) -> None:
        object.__setattr__(self, "data", Path(self.data))
        object.__setattr__(self, "output", Path(self.output))
        validate_alpha(self.alpha)
        validate_resolution(self.resolution)
        checks = [
            (self.epochs >= 1, f"--epochs must be >= 1, got {self.epochs}"),
            (self.batch_size >= 2, f"--batch-size must be >= 2 (BatchNorm needs two images), got {self.batch_size}"),
            (self.lr is None or self.lr > 0, f"--lr must be positive, got {self.lr}"),
            (self.optimizer in OPTIMIZERS, f"--optimizer must be one of {', '.join(OPTIMIZERS)}"),
            (self.schedule in SCHEDULES, f"--schedule must be one of {', '.join(SCHEDULES)}"),
            (0.0 <= self.label_smoothing < 1.0, "--label-smoothing must be in [0, 1)"),
            (0.0 < self.min_crop_area <= 1.0, "--min-crop-area must be in (0, 1]"),
            (0.0 < self.val_split < 1.0, "--val-split must be in (0, 1)"),
            (self.freeze_backbone_epochs >= 0, "--freeze-backbone-epochs must be >= 0"),
            (self.distill_temperature > 0, "--temperature must be positive"),
            (0.0 <= self.distill_weight <= 1.0, "--distill-weight must be in [0, 1]"),
            (self.max_time is None or self.max_time > 0, "--max-time must be positive"),
            (self.workers is None or self.workers >= 0, "--workers must be >= 0"),
            (self.threads is None or self.threads >= 1, "--threads must be >= 1"),
            (self.output.suffix == ".safetensors", f"--output must end in .safetensors, got {self.output.name}"),
        ]
        for ok, message in checks:
            if not ok:
                raise UsageError(message)

    @property
    def num_workers(self) -> int:
        return default_workers() if self.workers is None else self.workers

    @property
    def fine_tuning(self) -> bool:
        return self.weights != "random"

    @property
    def base_lr(self) -> float:
        if self.lr is not None:
            return self.lr
        lr = 0.01 * self.batch_size / 32 if self.optimizer == "rmsprop" else 0.045 * self.batch_size / 64
        return lr * (0.1 if self.fine_tuning else 1.0)

    @property
    def state_path(self) -> Path:
        """The resumable state beside the checkpoint: ``ckpt.state.pt``."""
        return self.output.with_name(self.output.name.removesuffix(".safetensors") + ".state.pt")

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["data"], d["output"] = str(self.data), str(self.output)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TrainConfig:
        known = {f.name for f in fields(cls)}
        unknown = set(d) - known
        if unknown:
            raise UsageError(f"unknown training options: {', '.join(sorted(unknown))}")
        return cls(**d)
