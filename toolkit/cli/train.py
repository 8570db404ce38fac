"""``toolkit train`` and ``toolkit eval``: thin wrappers over toolkit.train and toolkit.evaluate."""

from __future__ import annotations

from pathlib import Path

import typer

from toolkit.cli._app import app, console, err_console

__all__ = ["eval_command", "train_command"]


@app.command("train")
def train_command(
    data: Path = typer.Option(
        ..., "--data", "-d", help="ImageFolder: train/ and val/ of class folders, or one folder."
    ),
    alpha: float = typer.Option(1.0, "--alpha", "-a", help="Width multiplier in (0, 1]."),
    resolution: int = typer.Option(224, "--resolution", "-r", help="Input side, a multiple of 32."),
    weights: str = typer.Option("imagenet", "--weights", "-w", help="imagenet, random, a .h5 or a checkpoint."),
    output: Path = typer.Option(
        Path("checkpoint.safetensors"), "--output", "-o", help="Best checkpoint (.safetensors)."
    ),
    epochs: int = typer.Option(10, "--epochs"),
    batch_size: int = typer.Option(32, "--batch-size"),
    lr: float = typer.Option(None, "--lr", help="Peak learning rate (default scales with batch size)."),
    optimizer: str = typer.Option("rmsprop", "--optimizer", help="rmsprop (the paper's) or sgd."),
    schedule: str = typer.Option("cosine", "--schedule", help="cosine, exponential (slim) or constant."),
    label_smoothing: float = typer.Option(0.0, "--label-smoothing"),
    val_split: float = typer.Option(0.2, "--val-split", help="Validation share when DIR has no val/ folder."),
    hflip: bool = typer.Option(True, "--hflip/--no-hflip", help="Random horizontal flips (off for digits/text)."),
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
) -> None:
    """Train from scratch, fine-tune or distill MobileNet V1 (α, ρ) on a folder of images."""
    from toolkit.train import TrainConfig, train

    cfg = TrainConfig(data=data, alpha=alpha, resolution=resolution, weights=weights, output=output, epochs=epochs,
                      batch_size=batch_size, lr=lr, optimizer=optimizer, schedule=schedule,
                      label_smoothing=label_smoothing, val_split=val_split, hflip=hflip,
                      freeze_backbone_epochs=freeze_backbone_epochs, reset_head=reset_head, teacher=teacher,
                      teacher_weights=teacher_weights, distill_temperature=temperature, distill_weight=distill_weight,
                      max_time=max_time, resume=resume, seed=seed, workers=workers, threads=threads,
                      channels_last=channels_last, progress=progress)  # fmt: skip
    result = train(cfg, console=err_console)
    if result.best is None:
        console.print("no checkpoint written (stopped before the first validation)")
        return
    best = result.best
    console.print(f"best: epoch {best['epoch']}  val top-1 {best['top1']:.2%}  top-5 {best['top5']:.2%}  "
                  f"→ {result.checkpoint} ({result.seconds:.0f} s, {result.stopped})", highlight=False)  # fmt: skip


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
    console.print(res.summary() + (f", {res.skipped} unreadable skipped" if res.skipped else ""), highlight=False)
    for true, pred, count in res.most_confused(confused):
        console.print(f"  {true} → {pred}: {count}", highlight=False)
