"""Train, fine-tune or distill MobileNet V1 at any (α, ρ) on an ImageFolder: ``train(TrainConfig(...))``.

One loop covers the three modes. From ``random`` weights it trains from scratch; from ImageNet, an
``.h5`` or a checkpoint it fine-tunes (a new head when the classes differ, optionally a frozen
backbone for the first epochs); with a teacher it adds the soft-target loss. Every epoch ends with
top-1/top-5 on the validation split, the best model goes to ``cfg.output`` (``.safetensors`` plus
metadata the exporters read) and a resumable state to ``cfg.state_path``.
"""

from __future__ import annotations

import signal
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from toolkit.data import Preprocessing
from toolkit.errors import ToolkitError, UsageError
from toolkit.evaluate import EvalResult, evaluate
from toolkit.imagefolder import Augment, EpochSampler, FolderSplit, ImageDataset, collate_skip, scan_image_folder
from toolkit.models.mobilenet_v1 import MobileNetV1
from toolkit.training.config import TrainConfig
from toolkit.training.recipe import distillation_loss, lr_at, make_optimizer, set_backbone_frozen
from toolkit.training.state import load_state, save_state
from toolkit.weights import CheckpointMeta, save_checkpoint

__all__ = [
    "TrainConfig",
    "TrainResult",
    "TrainingInterruptedError",
    "build_student",
    "load_teacher",
    "start_run",
    "train",
]


class TrainingInterruptedError(ToolkitError):
    """Ctrl-C: the state is saved; the message says how to resume. Exit code 130, like SIGINT."""

    exit_code = 130


@dataclass
class TrainResult:
    checkpoint: Path | None
    state_path: Path
    best: dict[str, Any] | None
    history: list[dict[str, Any]] = field(default_factory=list)
    stopped: str = "completed"  # or "max-time"
    seconds: float = 0.0
    skipped_images: int = 0


class _StopFlag:
    """First Ctrl-C asks the loop to stop after the current step; a second one aborts at once."""

    def __init__(self) -> None:
        self.reason: str | None = None
        self._previous: Any = None

    def __enter__(self) -> _StopFlag:
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGINT, self._handle)
        return self

    def _handle(self, signum: int, frame: Any) -> None:
        if self.reason == "interrupt":
            raise KeyboardInterrupt
        self.reason = "interrupt"

    def __exit__(self, *exc: object) -> None:
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)


def build_student(cfg: TrainConfig, classes: tuple[str, ...]) -> tuple[MobileNetV1, str]:
    """The model to train and a note on how its weights were set (new head or not)."""
    from toolkit import mobilenet_v1
    from toolkit.weights import resolve

    if cfg.weights in ("random", "imagenet") or Path(cfg.weights).suffix.lower() in (".h5", ".hdf5", ".keras"):
        model = mobilenet_v1(cfg.alpha, cfg.resolution, weights=cfg.weights, num_classes=len(classes), seed=cfg.seed)
        note = (
            "from scratch" if cfg.weights == "random" else f"backbone from {cfg.weights}, new {len(classes)}-class head"
        )
    else:
        meta = resolve(cfg.weights, cfg.alpha, cfg.resolution).meta
        model = mobilenet_v1(cfg.alpha, cfg.resolution, weights=cfg.weights, seed=cfg.seed)
        same = meta is not None and tuple(meta.class_names) == tuple(classes) and not cfg.reset_head
        if not same:
            model.reset_classifier(len(classes), torch.Generator().manual_seed(cfg.seed))
        note = f"from {Path(cfg.weights).name}" + ("" if same else f", new {len(classes)}-class head")
    model.class_names = list(classes)
    model.resolution = cfg.resolution
    return model, note


def load_teacher(cfg: TrainConfig, num_classes: int) -> MobileNetV1 | None:
    """``--teacher`` is a checkpoint path (α/ρ from its metadata) or a variant name plus ``--teacher-weights``."""
    if cfg.teacher is None:
        return None
    from toolkit import mobilenet_v1
    from toolkit.variants import parse_name
    from toolkit.weights import resolve

    if cfg.teacher.startswith("mobilenet_v1-"):
        v = parse_name(cfg.teacher)
        if cfg.teacher_weights is None:
            raise UsageError("--teacher as a variant name needs --teacher-weights (imagenet, .h5 or checkpoint)")
        teacher = mobilenet_v1(v.alpha, v.resolution, weights=cfg.teacher_weights, num_classes=num_classes)
    else:
        meta = resolve(cfg.teacher, cfg.alpha, cfg.resolution).meta
        if meta is None:
            raise UsageError(
                f"teacher {cfg.teacher} has no toolkit metadata; name its variant and pass --teacher-weights"
            )
        teacher = mobilenet_v1(meta.alpha, meta.resolution, weights=cfg.teacher)
    if teacher.num_classes != num_classes:
        raise UsageError(f"the teacher has {teacher.num_classes} classes but the data has {num_classes}")
    return teacher.eval().requires_grad_(False)


def _teacher_input(x: torch.Tensor, student_prep: Preprocessing, teacher: MobileNetV1) -> torch.Tensor:
    """Re-express the student's batch in the teacher's resolution and normalization."""
    tp: Preprocessing = teacher.preprocessing
    if tp != student_prep:
        s_mean, s_std = (torch.tensor(v).view(1, 3, 1, 1) for v in (student_prep.mean, student_prep.std))
        t_mean, t_std = (torch.tensor(v).view(1, 3, 1, 1) for v in (tp.mean, tp.std))
        x = ((x * s_std + s_mean) - t_mean) / t_std
    if x.shape[-1] != teacher.resolution:
        x = F.interpolate(x, size=(teacher.resolution,) * 2, mode="bilinear", align_corners=False)
    return x


def _loader(ds: ImageDataset, cfg: TrainConfig, epoch: int, start_step: int) -> torch.utils.data.DataLoader:
    # Own generator: creating an iterator must not draw from the global RNG (dropout), or a resumed
    # run would diverge from an uninterrupted one.
    sampler = EpochSampler(len(ds), cfg.seed, epoch, start_step * cfg.batch_size)
    return torch.utils.data.DataLoader(ds, batch_size=cfg.batch_size, sampler=sampler, drop_last=True,
                                       collate_fn=collate_skip, num_workers=cfg.num_workers,
                                       generator=torch.Generator().manual_seed(cfg.seed),
                                       persistent_workers=False)  # fmt: skip


def _meta(model: MobileNetV1, cfg: TrainConfig, split: FolderSplit, metrics: dict, parent: str) -> CheckpointMeta:
    return CheckpointMeta(alpha=cfg.alpha, resolution=cfg.resolution, num_classes=model.num_classes,
                          class_names=tuple(split.classes), preprocessing=model.preprocessing,
                          activation=model.activation, padding=model.padding,
                          extra={"training": cfg.to_dict(), "metrics": metrics, "parent_weights": parent})  # fmt: skip


def _restore(cfg: TrainConfig, split: FolderSplit) -> tuple[MobileNetV1, dict[str, Any]]:
    """Rebuild the model from a saved state; α, ρ and classes must be the ones it was saved with."""
    blob = load_state(cfg.state_path)
    saved, prog = blob["config"], blob["progress"]
    if abs(saved["alpha"] - cfg.alpha) > 1e-9 or saved["resolution"] != cfg.resolution:
        raise UsageError(f"{cfg.state_path} was saved at alpha {saved['alpha']:g}, resolution {saved['resolution']}; "
                         f"resume with --alpha {saved['alpha']:g} --resolution {saved['resolution']}")  # fmt: skip
    if tuple(prog["classes"]) != tuple(split.classes):
        raise UsageError(f"{cfg.state_path} was trained on {len(prog['classes'])} classes "
                         f"({', '.join(prog['classes'][:4])}, ...); the data now has {len(split.classes)}")  # fmt: skip
    model = MobileNetV1(cfg.alpha, len(split.classes), resolution=cfg.resolution, activation=prog["activation"],
                        padding=prog["padding"])  # fmt: skip
    model.load_state_dict(blob["model"])
    model.preprocessing = Preprocessing.from_dict(prog["preprocessing"])
    model.class_names = list(split.classes)
    prog["optimizer"], prog["rng_torch"] = blob["optimizer"], blob["rng_torch"]
    return model, prog


def start_run(cfg: TrainConfig) -> Any:
    """Threads and seed set, the image folder split; UsageError when there is not one batch to train on."""
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    torch.manual_seed(cfg.seed)
    split = scan_image_folder(cfg.data, cfg.val_split, cfg.seed)
    if len(split.train) < cfg.batch_size:
        raise UsageError(f"{len(split.train)} training images is fewer than one batch of {cfg.batch_size}")
    return split


def train(cfg: TrainConfig, console: Any = None) -> TrainResult:
    """Run ``cfg``; returns the best checkpoint's path and metrics. Ctrl-C raises TrainingInterruptedError."""
    from rich.console import Console

    console = console or Console(stderr=True)
    t0 = time.monotonic()
    split = start_run(cfg)
    if cfg.resume:
        model, prog = _restore(cfg, split)
        note = f"resumed at epoch {prog['epoch'] + 1}, step {prog['step']}"
    else:
        model, note = build_student(cfg, split.classes)
        prog = {"epoch": 0, "step": 0, "global_step": 0, "best": None, "history": [], "parent": cfg.weights,
                "classes": list(split.classes), "preprocessing": model.preprocessing.to_dict(),
                "activation": model.activation, "padding": model.padding}  # fmt: skip
    teacher = load_teacher(cfg, len(split.classes))
    optimizer = make_optimizer(model, cfg)
    if cfg.resume:
        optimizer.load_state_dict(prog.pop("optimizer"))
        torch.set_rng_state(prog.pop("rng_torch"))
    if cfg.channels_last:
        model = model.to(memory_format=torch.channels_last)
    augment = Augment(min_area=cfg.min_crop_area, hflip=cfg.hflip)
    train_ds = ImageDataset(split.train, cfg.resolution, model.preprocessing, augment)
    val_ds = ImageDataset(split.val, cfg.resolution, model.preprocessing)
    line = f"{model.variant.name}: {note}; {len(split.train)} train / {len(split.val)} val images"
    line += f", {len(split.classes)} classes"
    line += f", {len(split.skipped)} unreadable files skipped" if split.skipped else ""
    line += f"; distilling from {cfg.teacher}" if teacher is not None else ""
    console.print(line, highlight=False)
    with _StopFlag() as stop:
        result = _loop(model, teacher, optimizer, cfg, split, train_ds, val_ds, prog, stop, console, t0)
    if stop.reason == "interrupt":
        raise TrainingInterruptedError(f"state saved to {cfg.state_path}; resume with the same command plus --resume")
    result.seconds = time.monotonic() - t0
    return result


def _loop(model, teacher, optimizer, cfg, split, train_ds, val_ds, prog, stop, console, t0) -> TrainResult:
    from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

    steps_per_epoch = len(train_ds) // cfg.batch_size
    total = steps_per_epoch * cfg.epochs
    skipped = len(split.skipped)
    stats = TextColumn("loss {task.fields[loss]:.3f}  {task.fields[ips]:.0f} img/s")
    columns = [TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total}"), stats,
               TimeRemainingColumn()]  # fmt: skip
    with Progress(*columns, console=console, disable=not cfg.progress, transient=True, redirect_stderr=False) as bar:
        task = bar.add_task("train", total=total, completed=prog["global_step"], loss=float("nan"), ips=0.0)
        while prog["epoch"] < cfg.epochs and stop.reason is None:
            epoch = prog["epoch"]
            bar.update(task, description=f"epoch {epoch + 1}/{cfg.epochs}")
            losses, bad, ips = _run_epoch(model, teacher, optimizer, cfg, train_ds, prog, steps_per_epoch, total, stop,
                                     lambda **kw: bar.update(task, **kw), t0)  # fmt: skip
            skipped += bad
            finished = prog["step"] >= steps_per_epoch
            if stop.reason == "interrupt":
                break
            metrics = {**_validate(model, val_ds, cfg, split, epoch, losses, finished), "train_images_per_s": ips}
            prog["history"].append(metrics)
            if prog["best"] is None or metrics["top1"] > prog["best"]["top1"]:
                prog["best"] = metrics
                save_checkpoint(model.state_dict(), _meta(model, cfg, split, metrics, prog["parent"]), cfg.output)
            partial = "" if finished else " (partial epoch)"
            console.print(f"epoch {epoch + 1}: loss {metrics['loss']:.4f}  val top-1 {metrics['top1']:.2%}  "
                          f"top-5 {metrics['top5']:.2%}{partial}", highlight=False)  # fmt: skip
            if finished:
                prog["epoch"], prog["step"] = epoch + 1, 0
        save_state(cfg.state_path, model, optimizer, prog, cfg.to_dict())
    if stop.reason == "max-time":
        console.print(f"--max-time reached after {prog['global_step']} steps; continue with --resume", highlight=False)
    return TrainResult(cfg.output if prog["best"] else None, cfg.state_path, prog["best"], prog["history"],
                       stop.reason or "completed", skipped_images=skipped)  # fmt: skip


def _run_epoch(
    model, teacher, optimizer, cfg, ds, prog, steps_per_epoch, total, stop, update, t0
) -> tuple[list[float], int, float]:
    frozen = prog["epoch"] < cfg.freeze_backbone_epochs
    model.train()
    set_backbone_frozen(model, frozen)
    it = iter(_loader(ds, cfg, prog["epoch"], prog["step"]))
    losses: list[float] = []
    bad = 0
    t_start, seen = time.monotonic(), 0
    while prog["step"] < steps_per_epoch and stop.reason is None:
        try:
            x, y, n_bad = next(it)
        except (RuntimeError, StopIteration):
            if stop.reason is not None:  # Ctrl-C also reaches the workers, which then exit
                break
            raise
        bad += n_bad
        if len(x) < 2:
            prog["step"] += 1
            continue
        if cfg.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        for group in optimizer.param_groups:
            group["lr"] = lr_at(prog["global_step"], total, steps_per_epoch, cfg)
        logits = model(x)
        if teacher is not None:
            with torch.no_grad():
                t_logits = teacher(_teacher_input(x, model.preprocessing, teacher))
            loss = distillation_loss(
                logits, t_logits, y, cfg.distill_temperature, cfg.distill_weight, cfg.label_smoothing
            )
        else:
            loss = F.cross_entropy(logits, y, label_smoothing=cfg.label_smoothing)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        prog["step"] += 1
        prog["global_step"] += 1
        losses.append(loss.item())
        seen += len(x)
        update(advance=1, loss=sum(losses[-20:]) / len(losses[-20:]), ips=seen / (time.monotonic() - t_start))
        if cfg.max_time is not None and time.monotonic() - t0 > cfg.max_time:
            stop.reason = "max-time"
    set_backbone_frozen(model, False)
    return losses, bad, seen / max(1e-9, time.monotonic() - t_start)


def _validate(model, val_ds, cfg, split, epoch, losses, finished) -> dict[str, Any]:
    res: EvalResult = evaluate(model, val_ds, batch_size=max(cfg.batch_size, 64), class_names=split.classes,
                               workers=min(cfg.num_workers, 2))  # fmt: skip
    return {"epoch": epoch + 1, "complete_epoch": finished, "loss": sum(losses) / max(1, len(losses)),
            "top1": res.top1, "top5": res.top5, "n_val": res.n,
            "most_confused": [list(p) for p in res.most_confused(3)]}  # fmt: skip
