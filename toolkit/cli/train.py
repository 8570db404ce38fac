"""``toolkit train`` and ``toolkit eval``: thin wrappers over toolkit.train and toolkit.evaluate."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer

from toolkit.cli._app import app, console, err_console

if TYPE_CHECKING:
    from toolkit.training.config import TrainConfig

__all__ = ["eval_command", "train_command"]


@app.command("train")
def train_command(
    data: Path = typer.Option(
        ..., "--data", "-d", help="ImageFolder: train/ and val/ of class folders, or one folder."
    ),
    alpha: float = typer.Option(1.0, "--alpha", "-a", help="Width multiplier in (0, 1]."),
    resolution: int = typer.Option(224, "--resolution", "-r", help="Input side, a multiple of 32."),
    weights: str = typer.Option(
        None, "--weights", "-w", help="imagenet (default), random, a .h5 or a checkpoint; --qat: the float checkpoint."
    ),
    output: Path = typer.Option(
        Path("checkpoint.safetensors"), "--output", "-o", help="Best checkpoint (.safetensors)."
    ),
    epochs: int = typer.Option(None, "--epochs", help="Default 10; 2 with --qat."),
    batch_size: int = typer.Option(32, "--batch-size"),
    lr: float = typer.Option(None, "--lr", help="Peak learning rate (default scales with batch size)."),
    optimizer: str = typer.Option("rmsprop", "--optimizer", help="rmsprop (the paper's) or sgd."),
    schedule: str = typer.Option("cosine", "--schedule", help="cosine, exponential (slim) or constant."),
    label_smoothing: float = typer.Option(0.0, "--label-smoothing"),
    val_split: float = typer.Option(0.2, "--val-split", help="Validation share when DIR has no val/ folder."),
    hflip: bool = typer.Option(True, "--hflip/--no-hflip", help="Random horizontal flips (off for digits/text)."),
    min_crop_area: float = typer.Option(0.25, "--min-crop-area", help="Smallest random crop (1 = whole image)."),
    freeze_backbone_epochs: int = typer.Option(0, "--freeze-backbone-epochs", help="Train only the head first."),
    reset_head: bool = typer.Option(False, "--reset-head/--keep-head", help="New classifier even if classes match."),
    teacher: str = typer.Option(None, "--teacher", help="Distill from a checkpoint or a variant name."),
    teacher_weights: str = typer.Option(None, "--teacher-weights", help="Weights for a --teacher variant name."),
    temperature: float = typer.Option(4.0, "--temperature", help="Distillation temperature T."),
    distill_weight: float = typer.Option(0.7, "--distill-weight", help="Share of the soft-target loss."),
    max_time: float = typer.Option(None, "--max-time", help="Seconds; stop after the current step and save."),
    resume: bool = typer.Option(False, "--resume/--no-resume", help="Continue from OUTPUT's .state.pt."),
    seed: int = typer.Option(0, "--seed"),
    workers: int = typer.Option(None, "--workers", help="DataLoader workers (default min(4, CPUs))."),
    threads: int = typer.Option(None, "--threads", help="torch threads (default: torch's)."),
    channels_last: bool = typer.Option(True, "--channels-last/--no-channels-last", help="NHWC memory format."),
    progress: bool = typer.Option(True, "--progress/--no-progress"),
    qat: bool = typer.Option(
        False, "--qat/--no-qat", help="Quantization-aware fine-tuning of a float checkpoint, then int8 export."
    ),
    target: str = typer.Option(None, "--target", "-t", help="--qat export target (executorch)."),
    export_dir: Path = typer.Option(None, "--export-dir", help="--qat: where the int8 artifact goes (artifacts)."),
) -> None:
    """Train from scratch, fine-tune or distill MobileNet V1 (α, ρ) on a folder of images.

    With --qat: fine-tune a trained float checkpoint with fake-quant (PT2E QAT, XNNPACK int8) and export
    the verified int8 ExecuTorch artifact, for when post-training int8 loses too much.
    """
    from toolkit.errors import UsageError
    from toolkit.train import TrainConfig, train
    from toolkit.training.qat import QAT_EPOCHS

    if not qat and (target is not None or export_dir is not None):
        raise UsageError("--target and --export-dir apply to --qat only")
    if qat and weights is None:
        raise UsageError("--qat fine-tunes a trained float model: pass --weights CKPT.safetensors")
    weights, epochs = weights or "imagenet", epochs or (QAT_EPOCHS if qat else 10)
    cfg = TrainConfig(data=data, alpha=alpha, resolution=resolution, weights=weights, output=output, epochs=epochs,
                      batch_size=batch_size, lr=lr, optimizer=optimizer, schedule=schedule,
                      label_smoothing=label_smoothing, val_split=val_split, hflip=hflip, min_crop_area=min_crop_area,
                      freeze_backbone_epochs=freeze_backbone_epochs, reset_head=reset_head, teacher=teacher,
                      teacher_weights=teacher_weights, distill_temperature=temperature, distill_weight=distill_weight,
                      max_time=max_time, resume=resume, seed=seed, workers=workers, threads=threads,
                      channels_last=channels_last, progress=progress)  # fmt: skip
    if qat:
        return _qat(cfg, target or "executorch", export_dir or Path("artifacts"))
    result = train(cfg, console=err_console)
    if result.best is None:
        console.print("no checkpoint written (stopped before the first validation)")
        return
    best = result.best
    console.print(f"best: epoch {best['epoch']}  val top-1 {best['top1']:.2%}  top-5 {best['top5']:.2%}  "
                  f"→ {result.checkpoint} ({result.seconds:.0f} s, {result.stopped})", highlight=False)  # fmt: skip


def _qat(cfg: TrainConfig, target: str, export_dir: Path) -> None:
    from toolkit.training.qat import QATConfig, train_qat

    res = train_qat(QATConfig(cfg, target=target, export_dir=export_dir), console=err_console)
    acc = res.artifact.manifest["quantization"]["accuracy"] or {}
    int8 = f"{acc['quantized_top1']:.2%}" if acc.get("quantized_top1") is not None else "not measured"
    console.print(f"QAT val top-1: fp32 start {res.parent_top1:.2%}, fine-tuned fp32 {res.float_top1:.2%}, int8 {int8} "
                  f"(agreement {acc.get('top1_agreement', float('nan')):.1%})\n  checkpoint {res.checkpoint}\n"
                  f"  artifact   {res.artifact.path} ({res.seconds:.0f} s)", highlight=False)  # fmt: skip
    for warning in res.artifact.manifest["warnings"]:
        err_console.print(f"warning: {warning}", highlight=False)


@app.command("eval")
def eval_command(
    weights: str = typer.Option(..., "--weights", "-w", help="A checkpoint (α/ρ/classes from its metadata) or .h5."),
    data: Path = typer.Option(..., "--data", "-d", help="Folder of class folders (its val/ split if present)."),
    alpha: float = typer.Option(None, "--alpha", "-a", help="Default: the checkpoint's."),
    resolution: int = typer.Option(None, "--resolution", "-r", help="Default: the checkpoint's."),
    batch_size: int = typer.Option(64, "--batch-size"),
    confused: int = typer.Option(5, "--confused", help="How many most-confused class pairs to list."),
) -> None:
    """Top-1/top-5 of a checkpoint on a labelled folder, and its most-confused class pairs."""
    from toolkit.evaluate import evaluate_checkpoint

    res = evaluate_checkpoint(weights, data, alpha=alpha, resolution=resolution, batch_size=batch_size)
    if res.note:
        err_console.print(f"[yellow]note:[/] {res.note}", highlight=False, soft_wrap=True)
    console.print(res.summary() + (f", {res.skipped} unreadable skipped" if res.skipped else ""), highlight=False)
    for true, pred, count in res.most_confused(confused):
        console.print(f"  {true} → {pred}: {count}", highlight=False)
