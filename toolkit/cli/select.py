"""``toolkit select`` (which variant to ship under a latency budget) and ``toolkit predict-latency``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from toolkit.cli._app import app, console

__all__ = ["predict_latency", "select"]

_DB = typer.Option(None, "--db", help="Results database (default: the one `toolkit sweep` writes).")
_RECORDS = typer.Option(None, "--records", help="Result-record JSON file instead of the database (repeatable).")
_DEVICE = typer.Option(None, "--device", help="Device name as measured (default: every device).")
_RUNTIME = typer.Option(None, "--runtime", help="Runtime: onnxruntime, executorch, tflite, coreml, ...")
_PRECISION = typer.Option(None, "--precision", help="Precision: fp32, fp16, int8.")


def _records(db: Path | None, files: list[Path] | None) -> list[dict[str, Any]]:
    from toolkit.select import load_records

    return load_records(db, files)


def _table(sel: Any) -> Any:
    from rich.table import Table

    table = Table(title=f"Latency budget {sel.budget_ms:g} ms ({sel.metric}; * = predicted by the latency model)")
    for col in ("", "variant", "device", "runtime", "precision", "top-1 %", f"{sel.metric} ms", "checked ms", "M MACs"):
        table.add_column(col, justify="left" if col in ("", "variant", "device") else "right", no_wrap=True)
    frontier = {(c.name, c.device, c.runtime, c.precision) for c in sel.frontier}
    rows = [("pick", sel.pick)] if sel.pick else []
    rows += [("runner-up", c) for c in sel.runners_up]
    rows += [("frontier", c) for c in sel.frontier if c not in (sel.pick, *sel.runners_up)]
    for role, c in rows:
        star = "*" if c.predicted else ""
        on = " ◆" if (c.name, c.device, c.runtime, c.precision) in frontier else ""
        acc = "?" if c.accuracy is None else f"{c.accuracy:.1f}" + ("ᵉ" if c.accuracy_source == "eval" else "")
        table.add_row(role + on, c.name, c.device, c.runtime, c.precision, acc, f"{c.latency_ms:.3g}{star}",
                      f"{c.bound_ms:.3g}{star}", f"{c.macs / 1e6:.0f}")  # fmt: skip
    return table


@app.command("select")
def select(
    budget_ms: float = typer.Option(..., "--budget-ms", help="Latency budget per image, in milliseconds."),
    device: str = _DEVICE,
    runtime: str = _RUNTIME,
    precision: str = _PRECISION,
    metric: str = typer.Option("median", "--metric", help="median (checks its 95% CI upper end) or p90."),
    accuracy: Path = typer.Option(None, "--accuracy", help="JSON {variant: top-1} from your own `toolkit eval`."),
    db: Path = _DB,
    records: list[Path] = _RECORDS,
    include_predicted: bool = typer.Option(
        True, "--include-predicted/--measured-only", help="Add model predictions for unmeasured variants."
    ),
    measure: bool = typer.Option(False, "--measure/--no-measure", help="Measure the pick on this host to confirm."),
) -> None:
    """The most accurate variant whose latency fits the budget, runners-up and the Pareto frontier (◆)."""
    from toolkit.errors import ToolkitError
    from toolkit.select import confirm_pick
    from toolkit.select import select as choose

    recs = _records(db, records)
    sel = choose(recs, budget_ms, device, runtime, precision, metric, accuracy, include_predicted)
    console.print(_table(sel))
    if sel.pick is None:
        raise ToolkitError(sel.message)  # no answer: exit 1 so scripts can tell
    console.print(sel.message, highlight=False, soft_wrap=True)
    if measure and sel.pick is not None:
        console.print(confirm_pick(sel, recs, db).message, highlight=False, soft_wrap=True)


@app.command("predict-latency")
def predict_latency(
    alpha: float = typer.Option(..., "--alpha", "-a", help="Width multiplier in (0, 1]."),
    resolution: int = typer.Option(..., "--resolution", "-r", help="Input side, a positive multiple of 32."),
    device: str = typer.Option(..., "--device", help="A measured device's name."),
    runtime: str = _RUNTIME,
    precision: str = _PRECISION,
    db: Path = _DB,
    records: list[Path] = _RECORDS,
) -> None:
    """Predict a variant's median latency on a measured device, with a ~95% interval."""
    from toolkit.latency_model import predict
    from toolkit.variants import Variant

    v = Variant(alpha, resolution)
    p = predict(v.alpha, v.resolution, device, runtime, precision, records=_records(db, records))
    note = " (outside the measured range: interval widened)" if p.extrapolated else ""
    console.print(f"{v.name} on {device} ({p.key[1]} {p.key[2]}): predicted median {p.median_ms:.3g} ms, 95% interval "
                  f"[{p.low_ms:.3g}, {p.high_ms:.3g}] ms{note}", highlight=False, soft_wrap=True)  # fmt: skip
