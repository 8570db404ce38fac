"""``toolkit train --qat``: fine-tune a trained float model with fake-quant, then export its int8 ``.pte``.

For when post-training int8 loses too much. The run starts from a float checkpoint whose classes are the
data's, prepares the pad-free PT2E QAT graph (:mod:`quantization.qat`, the XNNPACK int8 scheme), and
trains it for a few epochs with :mod:`toolkit.train`'s own step loop and validation (same data
pipeline, augmentation, learning-rate schedule, progress bar). It then writes

1. the fine-tuned float weights as an ordinary checkpoint (``cfg.train.output``, loadable anywhere a
   trained checkpoint is: the pad-free kernels fold back into the published 3×3 ones), and
2. the converted int8 program through :func:`toolkit.export.export` (``options["qat_program"]``):
   ``mobilenet_v1-a..-r..-executorch-int8-qat.pte`` verified against that float checkpoint (parity gate,
   temp-then-rename) with a manifest whose ``quantization`` record says ``qat: true`` and holds the
   agreement and labeled top-1 on the validation split.

QAT runs are short (default 2 epochs at a tenth of the fine-tuning learning rate) and not resumable.
"""

from __future__ import annotations

import copy
import dataclasses
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from toolkit.errors import UsageError
from toolkit.training.config import TrainConfig

__all__ = ["QAT_EPOCHS", "QAT_LR_SCALE", "QATConfig", "QATResult", "train_qat"]

QAT_EPOCHS = 2  # the graph starts trained; QAT only adapts it to the int8 grid
QAT_LR_SCALE = 0.1  # × the fine-tuning default: big steps would undo the float training
QAT_TARGETS = ("executorch",)  # PT2E QAT with the XNNPACK quantizer lowers to ExecuTorch only
PARITY_IMAGES = 48  # validation images the export pipeline's parity gate runs on


@dataclass(frozen=True)
class QATConfig:
    """A QAT run: the training knobs (``train``) plus where the int8 artifact goes.

    ``export_dir=None`` writes only the fine-tuned checkpoint. A ``train.lr`` of None means
    :data:`QAT_LR_SCALE` × the fine-tuning default.
    """

    train: TrainConfig
    target: str = "executorch"
    export_dir: Path | None = Path("artifacts")
    verify: bool = True

    def __post_init__(self) -> None:
        from toolkit.export.base import validate_target

        t = self.train
        if validate_target(self.target) not in QAT_TARGETS:
            raise UsageError(
                f"--qat exports to {', '.join(QAT_TARGETS)} only (PT2E QAT for XNNPACK int8); for {self.target} "
                f"int8 use: toolkit export --target {self.target} --precision int8"
            )
        if t.weights in ("random", "imagenet") or Path(t.weights).suffix.lower() in (".h5", ".hdf5", ".keras"):
            raise UsageError(
                "--qat fine-tunes a trained float model of the data's classes: pass --weights CKPT.safetensors "
                "(train one first with toolkit train)"
            )
        if t.resume:
            raise UsageError("--qat runs are short and not resumable; drop --resume")
        if t.freeze_backbone_epochs:
            raise UsageError("--freeze-backbone-epochs does not apply to --qat (every layer is quantized)")
        if t.reset_head:
            raise UsageError("--reset-head does not apply to --qat: it starts from a trained head")
        if self.export_dir is not None:
            object.__setattr__(self, "export_dir", Path(self.export_dir))

    @property
    def run(self) -> TrainConfig:
        """The training config as QAT runs it: its low default learning rate filled in."""
        t = self.train
        return t if t.lr is not None else dataclasses.replace(t, lr=t.base_lr * QAT_LR_SCALE)


@dataclass
class QATResult:
    checkpoint: Path
    artifact: Any  # toolkit.export.ExportResult, or None without export_dir
    parent_top1: float  # the float model QAT started from, on the validation split
    float_top1: float  # the fine-tuned float weights (what the checkpoint holds)
    history: list[dict[str, Any]] = field(default_factory=list)  # per epoch; top1 is the fake-quant graph's
    stopped: str = "completed"  # or "max-time"
    seconds: float = 0.0


class _QATModel(nn.Module):
    """The fake-quant graph dressed as the float model, so :mod:`toolkit.train`'s step loop and validation run
    it unchanged: ``train()``/``eval()`` switch the graph's BatchNorm and its range observers."""

    def __init__(self, graph: torch.fx.GraphModule, parent: nn.Module) -> None:
        super().__init__()
        self.graph = graph
        for name in ("variant", "alpha", "resolution", "num_classes", "preprocessing", "class_names"):
            setattr(self, name, getattr(parent, name))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.graph(x)

    def train(self, mode: bool = True) -> _QATModel:
        from quantization.qat import set_training

        self.training = mode  # not recursive: the exported graph switches through set_training only
        set_training(self.graph, mode)
        return self


def _load_parent(cfg: TrainConfig, classes: tuple[str, ...]) -> nn.Module:
    """The float model QAT starts from; UsageError unless its classes are the data's."""
    from toolkit import mobilenet_v1

    parent = mobilenet_v1(cfg.alpha, cfg.resolution, weights=cfg.weights)
    if tuple(parent.class_names) != tuple(classes):
        raise UsageError(f"{Path(cfg.weights).name} has classes ({', '.join(parent.class_names[:4])}, ...) but "
                         f"{cfg.data} has ({', '.join(classes[:4])}, ...); --qat needs a model trained on these "
                         "classes")  # fmt: skip
    return parent


def _optimizer(model: _QATModel, parent: nn.Module, cfg: TrainConfig) -> torch.optim.Optimizer:
    """The recipe's optimizer, weight decay on the same tensors as for the float model (matched by name)."""
    from toolkit.training.recipe import param_groups

    decayed = {id(p) for p in param_groups(parent, cfg.weight_decay)[0]["params"]}
    names = {n for n, p in parent.named_parameters() if id(p) in decayed}
    params = dict(model.graph.named_parameters())
    groups = [{"params": [p for n, p in params.items() if n in names], "weight_decay": cfg.weight_decay},
              {"params": [p for n, p in params.items() if n not in names], "weight_decay": 0.0}]  # fmt: skip
    if cfg.optimizer == "rmsprop":
        return torch.optim.RMSprop(groups, lr=cfg.base_lr, alpha=cfg.rmsprop_decay, eps=cfg.eps, momentum=cfg.momentum)
    return torch.optim.SGD(groups, lr=cfg.base_lr, momentum=cfg.momentum, nesterov=cfg.momentum > 0)


def _epochs(model, teacher, optimizer, cfg, split, train_ds, val_ds, console, t0) -> tuple[list[dict], str]:
    """``cfg.epochs`` epochs of :mod:`toolkit.train`'s step loop, each followed by its validation."""
    from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

    from toolkit.train import TrainingInterruptedError, _run_epoch, _StopFlag, _validate

    steps = len(train_ds) // cfg.batch_size
    prog: dict[str, Any] = {"epoch": 0, "step": 0, "global_step": 0}
    history: list[dict[str, Any]] = []
    stats = TextColumn("loss {task.fields[loss]:.3f}  {task.fields[ips]:.0f} img/s")
    columns = [TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total}"), stats,
               TimeRemainingColumn()]  # fmt: skip
    with _StopFlag() as stop, Progress(*columns, console=console, disable=not cfg.progress, transient=True) as bar:
        task = bar.add_task("qat", total=steps * cfg.epochs, loss=float("nan"), ips=0.0)
        while prog["epoch"] < cfg.epochs and stop.reason is None:
            epoch = prog["epoch"]
            bar.update(task, description=f"QAT epoch {epoch + 1}/{cfg.epochs}")
            losses, _, ips = _run_epoch(model, teacher, optimizer, cfg, train_ds, prog, steps, steps * cfg.epochs,
                                        stop, lambda **kw: bar.update(task, **kw), t0)  # fmt: skip
            if stop.reason == "interrupt":
                break
            finished = prog["step"] >= steps
            history.append({**_validate(model, val_ds, cfg, split, epoch, losses, finished), "train_images_per_s": ips})
            console.print(f"QAT epoch {epoch + 1}: loss {history[-1]['loss']:.4f}  val top-1 (fake-quant int8) "
                          f"{history[-1]['top1']:.2%}", highlight=False)  # fmt: skip
            prog["epoch"], prog["step"] = epoch + 1, 0
    if stop.reason == "interrupt":
        raise TrainingInterruptedError("nothing was written (a QAT run is short: run it again)")
    return history, stop.reason or "completed"


def _val_arrays(val_ds: Any, indices: Any) -> tuple[np.ndarray, np.ndarray]:
    items = [val_ds[int(i)] for i in indices]
    items = [it for it in items if it is not None]
    return np.stack([x.numpy() for x, _ in items]), np.array([y for _, y in items], np.int64)


def _export(cfg: QATConfig, gm: torch.fx.GraphModule, split: Any, val_ds: Any) -> Any:
    """Convert the trained graph to int8 and write it through the export pipeline, verified."""
    from quantization.qat import convert_qat
    from toolkit import mobilenet_v1
    from toolkit.export import ExportConfig, export

    t = cfg.train
    fine = mobilenet_v1(t.alpha, t.resolution, weights=t.output)  # the artifact's float parent, as saved
    program = convert_qat(gm, torch.zeros(1, 3, t.resolution, t.resolution))
    # labeled top-1 on the validation split: the folder itself when the data has one, else its images
    eval_data = Path(t.data) / "val" if split.layout == "train/val" else _val_arrays(val_ds, range(len(val_ds)))
    parity, _ = _val_arrays(val_ds, np.linspace(0, len(val_ds) - 1, min(PARITY_IMAGES, len(val_ds))).round())
    options = {"qat_program": program, "eval_data": eval_data}
    ecfg = ExportConfig(target=cfg.target, precision="int8", output_dir=cfg.export_dir, options=options,
                        verify=cfg.verify, threads=t.threads or 0)  # fmt: skip
    return export(fine, ecfg, images=parity, progress=t.progress)


def _save(fine: nn.Module, parent: nn.Module, t: TrainConfig, metrics: dict[str, Any]) -> None:
    """The fine-tuned float checkpoint; its metadata names the float parent and says it came from QAT.

    ``metrics["top1"]`` is the float checkpoint's own (what ``toolkit eval`` reports), ``qat_top1`` the
    fake-quant graph's, ``parent_top1`` the starting model's, all on the validation split.
    """
    from toolkit.weights import CheckpointMeta, save_checkpoint

    extra = {"training": {**t.to_dict(), "qat": True}, "metrics": metrics, "parent_weights": str(t.weights),
             "parent_sha256": parent.weight_source.sha256}  # fmt: skip
    meta = CheckpointMeta(alpha=t.alpha, resolution=t.resolution, num_classes=fine.num_classes,
                          class_names=tuple(fine.class_names), preprocessing=fine.preprocessing,
                          activation=fine.activation, padding=fine.padding, extra=extra)  # fmt: skip
    save_checkpoint(fine.state_dict(), meta, t.output)


def train_qat(cfg: QATConfig, console: Any = None) -> QATResult:
    """Fine-tune ``cfg.train.weights`` with fake-quant, save the checkpoint, export the int8 artifact.

    Raises UsageError for bad input (before any training), ToolkitError when the graph fails to quantize
    or the artifact fails its parity gate, TrainingInterruptedError on Ctrl-C (nothing written).
    """
    from rich.console import Console

    from quantization.qat import float_state_dict, prepare_qat
    from toolkit.evaluate import evaluate
    from toolkit.imagefolder import Augment, ImageDataset
    from toolkit.train import load_teacher, start_run

    console = console or Console(stderr=True)
    t0 = time.monotonic()
    t = cfg.run
    split = start_run(t)
    parent = _load_parent(t, split.classes)
    teacher = load_teacher(t, len(split.classes))
    augment = Augment(min_area=t.min_crop_area, hflip=t.hflip)
    train_ds = ImageDataset(split.train, t.resolution, parent.preprocessing, augment)
    val_ds = ImageDataset(split.val, t.resolution, parent.preprocessing)
    eval_kw = {"batch_size": max(t.batch_size, 64), "class_names": split.classes, "workers": min(t.num_workers, 2)}
    parent_top1 = evaluate(parent, val_ds, **eval_kw).top1
    line = f"{parent.variant.name}: QAT from {Path(t.weights).name} (fp32 val top-1 {parent_top1:.2%}); "
    console.print(line + f"{len(split.train)} train / {len(split.val)} val images, lr {t.base_lr:g}", highlight=False)
    gm = prepare_qat(parent, torch.zeros(t.batch_size, 3, t.resolution, t.resolution))
    model = _QATModel(gm, parent)
    history, stopped = _epochs(model, teacher, _optimizer(model, parent, t), t, split, train_ds, val_ds, console, t0)
    fine = copy.deepcopy(parent)
    fine.load_state_dict(float_state_dict(gm, parent))
    float_top1 = evaluate(fine, val_ds, **eval_kw).top1
    last = history[-1] if history else {}
    _save(fine, parent, t, {**last, "top1": float_top1, "qat_top1": last.get("top1"), "parent_top1": parent_top1})
    artifact = _export(cfg, gm, split, val_ds) if cfg.export_dir is not None else None
    return QATResult(t.output, artifact, parent_top1, float_top1, history, stopped, time.monotonic() - t0)
