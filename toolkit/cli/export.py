"""``toolkit export``, ``toolkit verify`` and ``toolkit predict``: thin wrappers over toolkit.export."""

from __future__ import annotations

from pathlib import Path

import typer

from toolkit.cli._app import app, console, err_console, on_interrupt

__all__ = ["export", "predict", "verify"]

_TARGETS = "executorch, coreml, tflite, onnx or all"


@app.command("export")
def export(
    target: str = typer.Option(..., "--target", "-t", help=f"One of {_TARGETS}."),
    alpha: float = typer.Option(1.0, "--alpha", "-a", help="Width multiplier in (0, 1]."),
    resolution: int = typer.Option(224, "--resolution", "-r", help="Input side, a multiple of 32."),
    weights: str = typer.Option("imagenet", "--weights", "-w", help="imagenet, random, or a checkpoint path."),
    precision: str = typer.Option(None, "--precision", "-p", help="fp32, fp16 or int8 (default: the target's own)."),
    scheme: str = typer.Option(
        None, "--scheme", help="int8 only: the quantization scheme (default: the target's int8)."
    ),
    calibration: Path = typer.Option(
        None, "--calibration", help="int8: folder of calibration images (default: bundled photos)."
    ),
    calibration_samples: int = typer.Option(
        None, "--calibration-samples", help="int8: calibration images to use (default 100)."
    ),
    eval_data: Path = typer.Option(
        None, "--eval-data", help="int8: labeled folder (DIR/<class>/<image>) for fp32 vs int8 top-1."
    ),
    fold_padding: bool = typer.Option(
        None,
        "--fold-padding/--keep-pads",
        help="Pad-free graph, for ExecuTorch at every precision and int8 elsewhere (default: where it is faster).",
    ),
    output_dir: Path = typer.Option(Path("artifacts"), "--output-dir", "-o", help="Where artifacts go."),
    num_classes: int = typer.Option(None, "--num-classes", help="Classifier size (default: 1000 or the checkpoint's)."),
    labels: Path = typer.Option(None, "--labels", help="Class names file, one per line."),
    layout: str = typer.Option(
        None, "--layout", help="Input layout, executorch and tflite: nhwc (camera pixels, the default) or nchw."
    ),
    io: str = typer.Option(
        "float",
        "--io",
        help="float: float32 image in, float32 scores out, whatever the weights' precision (quantize/cast "
        "inside the graph); native: the compute dtype at the edges, declared in the manifest (tflite int8: "
        "int8 with scale/zero point; executorch fp16: float16).",
    ),
    dynamic_batch: bool = typer.Option(False, "--dynamic-batch/--static-batch", help="ONNX: symbolic batch axis."),
    min_target: str = typer.Option("iOS16", "--min-deployment-target", help="Core ML minimum deployment target."),
    verify: bool = typer.Option(True, "--verify/--no-verify", help="Check parity against PyTorch on photos."),
    force: bool = typer.Option(False, "--force/--no-force", help="Re-export even if a cached artifact matches."),
    threads: int = typer.Option(0, "--threads", help="Host runtime threads for verification (0 = default)."),
    images: Path = typer.Option(None, "--images", help="Folder of parity photos (default: bundled photos)."),
    seed: int = typer.Option(0, "--seed", help="Seed for --weights random."),
) -> None:
    """Export MobileNet V1 (α, ρ) to a phone format, verify it and write its manifest.

    int8 schemes per target: executorch int8, int8-dynamic; tflite int8, int8-dynamic; onnx int8,
    int8-dynamic; coreml int8-weights, palettize-8/6/4, w8a8 (macOS). See docs/quantization.md.
    """
    from toolkit import mobilenet_v1
    from toolkit.export.base import ExportConfig, validate_target
    from toolkit.export.pipeline import check_request, export_targets
    from toolkit.export.summary import read_labels, summary

    on_interrupt(lambda: f"an artifact in progress is discarded; finished ones in {output_dir} are kept and "
                 "reused when the same command runs again")  # fmt: skip
    targets = ["all"] if target == "all" else [validate_target(target)]
    quant = {"scheme": scheme, "calibration": calibration, "calibration_samples": calibration_samples,
             "eval_data": eval_data, "fold_padding": fold_padding}  # fmt: skip
    cfg = ExportConfig(target=targets[0] if target != "all" else "onnx", precision=precision, output_dir=output_dir,
                       layout=layout, dynamic_batch=dynamic_batch, minimum_deployment_target=min_target,
                       verify=verify, force=force, threads=threads, io=io,
                       options={k: v for k, v in quant.items() if v is not None})  # fmt: skip
    if target != "all":
        check_request(cfg)  # a bad precision, scheme or --io before any weights are loaded
    model = mobilenet_v1(alpha, resolution, weights=weights, num_classes=num_classes, seed=seed)
    if labels is not None:
        model.class_names = read_labels(labels, model.num_classes)
    results, skipped = export_targets(model, targets, cfg, images=images)
    console.print(summary(results, skipped))
    if not results:
        from toolkit.errors import MissingDependencyError

        raise MissingDependencyError("no target could be exported: " + "; ".join(skipped.values()))


@app.command("verify")
def verify(
    artifact: Path = typer.Argument(..., help="An exported artifact with its manifest beside it."),
    images: Path = typer.Option(None, "--images", help="Folder of photos (default: bundled photos)."),
    threads: int = typer.Option(0, "--threads", help="Host runtime threads (0 = default)."),
    compute_units: str = typer.Option(
        None,
        "--compute-units",
        help="Core ML only: all, cpu_only, cpu_and_gpu or cpu_and_ne (default: all; fp32: cpu_and_gpu).",
    ),
    device: str = typer.Option(None, "--device", "-d", help="aihub:NAME: check on that AI Hub phone instead."),
    db: Path = typer.Option(None, "--db", help="With --device: results DB remembering uploads and jobs."),
) -> None:
    """Re-check an artifact against the PyTorch model its manifest names (here, or on an AI Hub phone)."""
    from toolkit.verify import check_parity, verify_artifact

    if device is not None:
        from toolkit.cli._app import err_console
        from toolkit.profile.aihub_verify import verify_on_device

        status = lambda label, state: err_console.print(f"[dim]{device}: {label}: {state}[/]", highlight=False)  # noqa: E731
        report = verify_on_device(artifact, device, images=images, db=db, progress=status)
    else:
        report = verify_artifact(artifact, images=images, threads=threads, compute_units=compute_units)
    where = f" on {report.runtime}" if device else ""
    console.print(f"{artifact.name}{where}: {report.summary()}")
    check_parity(report, artifact.name)
    console.print("[green]parity holds[/]")


@app.command("predict")
def predict(
    artifact: Path = typer.Argument(..., help="An exported artifact with its manifest beside it."),
    image: Path = typer.Argument(..., help="A photo (jpg, png, ...)."),
    top: int = typer.Option(5, "--top", help="How many classes to print."),
    threads: int = typer.Option(0, "--threads", help="Host runtime threads (0 = default)."),
    compute_units: str = typer.Option(
        None,
        "--compute-units",
        help="Core ML only: all, cpu_only, cpu_and_gpu or cpu_and_ne (default: all; fp32: cpu_and_gpu).",
    ),
) -> None:
    """Classify one photo with the artifact's own runtime (preprocessing and labels from the manifest)."""
    from toolkit.errors import ToolkitError
    from toolkit.runtimes import RuntimeUnavailableError, classify, read_manifest

    weights = read_manifest(artifact).get("weights") or {}
    if weights.get("kind") == "random":
        err_console.print(f"[yellow]warning:[/] {artifact.name} has random weights (seed {weights.get('seed')}): "
                          "this top-5 means nothing; export with --weights imagenet or a trained checkpoint",
                          highlight=False, soft_wrap=True)  # fmt: skip
    try:
        top_k = classify(artifact, image, top_k=top, threads=threads, compute_units=compute_units)
    except RuntimeUnavailableError as e:  # Core ML off macOS: one line, not a traceback
        raise ToolkitError(f"cannot run {artifact.name} here: {e}") from None
    for rank, (label, prob) in enumerate(top_k, 1):
        console.print(f"{rank}. {prob:7.2%}  {label}", highlight=False)
