"""``toolkit variants`` and ``toolkit info``: the paper's tables for any variant, without importing torch."""

from __future__ import annotations

import typer

from toolkit.cli._app import app, console


def _m(n: int) -> str:
    return f"{n / 1e6:.2f}"


@app.command()
def variants(
    pattern: str = typer.Argument("*", help="fnmatch pattern on the name, e.g. '*-a0.50-*'."),
) -> None:
    """List the 16 published variants with mult-adds, parameters and published ImageNet accuracy."""
    from rich.table import Table

    from toolkit.cost import count
    from toolkit.variants import list_variants

    table = Table(title="MobileNet V1 published variants (ImageNet, 1000 classes)")
    for col in ("name", "alpha", "resolution", "M mult-adds", "M params", "top-1 %", "top-5 %"):
        table.add_column(col, justify="left" if col == "name" else "right", no_wrap=col == "name")
    for v in list_variants(pattern):
        c, acc = count(v.alpha, v.resolution), v.accuracy
        table.add_row(v.name, f"{v.alpha:g}", str(v.resolution), _m(c.macs), _m(c.params_paper),
                      f"{acc.top1:.1f}", f"{acc.top5:.1f}")  # fmt: skip
    console.print(table)
    console.print("params count conv/FC weights + FC bias (the paper's convention); accuracy: TF-slim 2018 float.")


@app.command()
def info(
    alpha: float = typer.Option(1.0, "--alpha", "-a", help="Width multiplier in (0, 1]."),
    resolution: int = typer.Option(224, "--resolution", "-r", help="Input side, a positive multiple of 32."),
    num_classes: int = typer.Option(1000, "--num-classes", help="Classifier outputs."),
) -> None:
    """Print the paper's Table 1 for one variant: every layer's shapes and cost, Table 2 and totals."""
    from rich.table import Table

    from toolkit.cost import count
    from toolkit.variants import Variant

    v = Variant(alpha, resolution)
    cost = count(v.alpha, v.resolution, num_classes)
    table = Table(title=f"{v.name}: body architecture (paper Table 1)")
    for col in ("layer", "type / stride", "filter shape", "input", "output", "mult-adds", "params"):
        table.add_column(col, justify="right" if col in ("mult-adds", "params") else "left")
    for layer in cost.layers:
        table.add_row(layer.name, f"{layer.type} / s{layer.stride}", "×".join(map(str, layer.kernel)),
                      "×".join(map(str, layer.in_shape)), "×".join(map(str, layer.out_shape)),
                      f"{layer.macs:,}", f"{layer.weights + layer.biases:,}")  # fmt: skip
    console.print(table)
    types = Table(title="Resource per layer type (paper Table 2; weights without biases)")
    for col in ("type", "mult-adds", "share", "parameters", "share"):
        types.add_column(col, justify="left" if col == "type" else "right")
    shares = cost.by_type_share()
    for name, (macs, weights) in cost.by_type().items():
        types.add_row(name, f"{macs:,}", f"{shares[name][0]:.2%}", f"{weights:,}", f"{shares[name][1]:.2%}")
    console.print(types)
    console.print(
        f"total: {cost.macs / 1e6:.2f} M mult-adds ({cost.flops / 1e9:.3f} GFLOPs), "
        f"{cost.params_paper:,} params (paper), {cost.params_trainable:,} trainable (with BN γ/β), "
        f"{cost.params_keras:,} incl. BN statistics (Keras count_params)"
    )
    if v.accuracy:
        console.print(f"published ImageNet accuracy: top-1 {v.accuracy.top1}%, top-5 {v.accuracy.top5}%")
    else:
        console.print("custom variant: no published ImageNet accuracy")
