"""``toolkit select`` (which variant to ship under a latency budget), ``toolkit predict-latency`` and
``toolkit devices`` (which devices have latency data: yours and the built-in published ones)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from toolkit.cli._app import app, console, err_console

__all__ = ["devices", "predict_latency", "print_transfer", "report_sample", "select"]

_DB = typer.Option(None, "--db", help="Results database (default: the one `toolkit sweep` writes).")
_RECORDS = typer.Option(None, "--records", help="Result-record JSON file instead of the database (repeatable).")
_DEVICE = typer.Option(None, "--device", help="Device name as measured, or a published one (see `toolkit devices`).")
_RUNTIME = typer.Option(None, "--runtime", help="Runtime: onnxruntime, executorch, tflite, coreml, ...")
_PRECISION = typer.Option(None, "--precision", help="Precision: fp32, fp16, int8.")
_DELEGATE = typer.Option(None, "--delegate", help="Delegate: cpu, gpu, nnapi, xnnpack, ... (default: every one).")
_PUBLISHED = typer.Option(
    False, "--include-published/--mine-only", help="Add the built-in published devices' figures as candidates."
)


def _gather(
    device: str | None,
    runtime: str | None,
    precision: str | None,
    delegate: str | None,
    db: Path | None,
    files: list[Path] | None,
    include_published: bool = False,
) -> tuple[list, list]:
    """:func:`toolkit.select.gather_records`, and one line saying where the records came from."""
    from toolkit.results import default_db_path
    from toolkit.select import gather_records

    recs, prior = gather_records(device, runtime, precision, delegate, db=db, files=files,
                                 include_published=include_published)  # fmt: skip
    mine = [r for r in recs if r.get("source") != "published"]
    path = Path(db) if db is not None else default_db_path()
    extra = f"{len(recs) - len(mine)} built-in published record(s)" if len(mine) < len(recs) else ""
    if files or path.exists():
        where = ", ".join(map(str, files)) if files else str(path)
        console.print(f"read {len(mine)} record(s) from {where}" + (f" and {extra}" if extra else ""),
                      highlight=False, soft_wrap=True)  # fmt: skip
    else:
        console.print(f"read {extra or 'no records'} (no results DB at {path})", highlight=False, soft_wrap=True)
    return recs, prior


def _latency(c: Any, value: float) -> str:
    return f"{value:.3g}" + ("*" if c.predicted else "") + (" published" if c.published and not c.predicted else "")


def _table(sel: Any) -> Any:
    from rich.table import Table

    table = Table(title=f"Latency budget {sel.budget_ms:g} ms ({sel.metric}; * = predicted by the latency model, "
                        "published = a cited document's figure)")  # fmt: skip
    for col in ("", "variant", "device", "runtime", "precision", "top-1 %", f"{sel.metric} ms", "checked ms", "M MACs"):
        table.add_column(col, justify="left" if col in ("", "variant", "device") else "right", no_wrap=True)
    frontier = {(c.name, c.where) for c in sel.frontier}
    rows = [("pick", sel.pick)] if sel.pick else []
    rows += [("runner-up", c) for c in sel.runners_up]
    rows += [("frontier", c) for c in sel.frontier if c not in (sel.pick, *sel.runners_up)]
    for role, c in rows:
        on = " ◆" if (c.name, c.where) in frontier else ""
        acc = "?" if c.accuracy is None else f"{c.accuracy:.1f}" + ("ᵉ" if c.accuracy_source == "eval" else "")
        runtime = c.runtime if c.delegate == "default" else f"{c.runtime}/{c.delegate}"
        table.add_row(role + on, c.name, c.device, runtime, c.precision, acc, _latency(c, c.latency_ms),
                      _latency(c, c.bound_ms), f"{c.macs / 1e6:.0f}")  # fmt: skip
    return table


@app.command("select")
def select(
    budget_ms: float = typer.Option(..., "--budget-ms", help="Latency budget per image, in milliseconds."),
    device: str = _DEVICE,
    runtime: str = _RUNTIME,
    precision: str = _PRECISION,
    delegate: str = _DELEGATE,
    metric: str = typer.Option("median", "--metric", help="median (checks its 95% CI upper end) or p90."),
    accuracy: Path = typer.Option(None, "--accuracy", help="JSON {variant: top-1} from your own `toolkit eval`."),
    db: Path = _DB,
    records: list[Path] = _RECORDS,
    include_published: bool = _PUBLISHED,
    include_predicted: bool = typer.Option(
        True, "--include-predicted/--measured-only", help="Add model predictions for unmeasured variants."
    ),
    measure: bool = typer.Option(False, "--measure/--no-measure", help="Measure the pick on this host to confirm."),
) -> None:
    """The most accurate variant whose latency fits the budget, runners-up and the Pareto frontier (◆)."""
    from toolkit.errors import ToolkitError
    from toolkit.select import confirm_pick, flagged_choices
    from toolkit.select import select as choose

    recs, prior = _gather(device, runtime, precision, delegate, db, records, include_published)
    sel = choose(recs, budget_ms, device, runtime, precision, metric, accuracy, include_predicted,
                 delegate=delegate, prior_records=prior)  # fmt: skip
    console.print(_table(sel))
    for line in flagged_choices(sel, recs):
        err_console.print(f"[yellow]⚑ {line}[/]", highlight=False)
    if sel.pick is None:
        raise ToolkitError(sel.message)  # no answer: exit 1 so scripts can tell
    console.print(sel.message, highlight=False, soft_wrap=True)
    if measure and sel.pick is not None:
        console.print(confirm_pick(sel, recs, db).message, highlight=False, soft_wrap=True)


@app.command("predict-latency")
def predict_latency(
    alpha: float = typer.Option(..., "--alpha", "-a", help="Width multiplier in (0, 1]."),
    resolution: int = typer.Option(..., "--resolution", "-r", help="Input side, a positive multiple of 32."),
    device: str = typer.Option(
        None, "--device", help="A measured device's name or a published one (default: the only measured one)."
    ),
    runtime: str = _RUNTIME,
    precision: str = _PRECISION,
    delegate: str = _DELEGATE,
    db: Path = _DB,
    records: list[Path] = _RECORDS,
) -> None:
    """Predict a variant's median latency on a device's configuration, with a ~95% interval.

    Without --runtime/--precision/--delegate, one prediction per configuration the device has (a sweep
    measures two: ExecuTorch and ONNX Runtime); without --device, the one device your results measured.
    """
    from toolkit.errors import UsageError
    from toolkit.latency_transfer import predict
    from toolkit.records import group_by_config
    from toolkit.variants import Variant

    v = Variant(alpha, resolution)
    recs, prior = _gather(device, runtime, precision, delegate, db, records)
    if device is None:
        names = sorted({r["device"]["name"] for r in recs})
        if len(names) != 1:
            raise UsageError("pass --device: " + (f"measured ones: {', '.join(names)}" if names else "none measured"))
        device = names[0]
    wanted = (device, runtime, precision, delegate)
    keys = [k for k in sorted(group_by_config(recs)) if all(w in (None, x) for w, x in zip(wanted, k, strict=True))]
    for key in keys or [wanted]:  # nothing matching: predict() says what was measured
        p = predict(v.alpha, v.resolution, device, *key[1:], records=recs, prior_records=prior)
        where = f"{p.key[1]} {p.key[2]}" + ("" if p.key[3] == "default" else f" {p.key[3]}")
        how = "transferred from other devices" if p.method == "transfer" else "fitted"
        note = " (outside the measured range: interval widened)" if p.extrapolated else ""
        console.print(f"{v.name} on {device} ({where}): predicted median {p.median_ms:.3g} ms, 95% interval "
                      f"[{p.low_ms:.3g}, {p.high_ms:.3g}] ms ({how}){note}", highlight=False,
                      soft_wrap=True)  # fmt: skip


@app.command("devices")
def devices(db: Path = _DB, records: list[Path] = _RECORDS) -> None:
    """Devices with latency data: the built-in published ones and those in your results."""
    from rich.table import Table

    from toolkit import published, results
    from toolkit.records import group_by_config
    from toolkit.select import load_records

    table = Table("device", "source", "kind", "OS", "configurations (variants)", title="devices with latency data")
    for name, entry in published.devices().items():
        d = entry["device"]
        cfgs = ", ".join(f"{k[1]} {k[2]} {k[3]} ({len(v)})" for k, v in entry["configs"].items())
        table.add_row(name, f"published ({d['model']}; {', '.join(entry['sources'])})", d["kind"], d["os"], cfgs)
    path = Path(db) if db is not None else results.default_db_path()
    mine = load_records(db, records) if records or path.exists() else []
    by_device: dict[str, list] = {}
    for key, recs in group_by_config(mine).items():
        by_device.setdefault(key[0], []).append((key, recs))
    for name, groups in by_device.items():
        d = groups[0][1][0]["device"]
        cfgs = ", ".join(f"{k[1]} {k[2]} {k[3]} ({len(r)})" for k, r in groups)
        table.add_row(name, "measured", d.get("kind", ""), d.get("os", ""), cfgs)
    console.print(table)
    if not mine:
        console.print(f"no measured devices in {path}: `toolkit sweep` measures one", highlight=False)


def print_transfer(measured: list[dict], predicted: list[dict]) -> None:
    """The few-shot sweep's report: measured variants and the transferred predictions, in separate tables."""
    from rich.table import Table

    for title, rows in (("measured", measured), ("predicted by transfer (not measured)", predicted)):
        table = Table("variant", "configuration", "median ms", "95% interval ms", title=title)
        for r in rows:
            rt, art = r["runtime"], r["artifact"]
            conf = f"{rt['name']} {art.get('precision') or ''} {rt.get('delegate') or ''}".strip()
            if r.get("source") == "predicted":
                p = r["prediction"]
                span = f"[{p['low_ms']:.3g}, {p['high_ms']:.3g}]" + (" extrapolated" if p["extrapolated"] else "")
            else:
                span = f"[{r['stats']['ci95_low_ms']:.3g}, {r['stats']['ci95_high_ms']:.3g}] (CI of the median)"
            table.add_row(art["variant"], conf, f"{r['stats']['median_ms']:.3g}", span)
        console.print(table)
    if predicted:
        prior = predicted[0]["prediction"]["prior"]
        console.print(f"transfer prior: {', '.join(prior)}", highlight=False, soft_wrap=True)


def report_sample(cfg: Any, db: Path | None, report_dir: Path) -> list[Path]:
    """After ``toolkit sweep --sample K``: for each swept device, predict the rest of the grid from its
    measured variants and other devices' data (yours and the published ones), print both apart, and write
    the predictions.

    The predicted records go to ``REPORT_DIR/predicted-<device>.json`` (``source: "predicted"``), never
    into the results DB. A device with no sampled measurement is named and skipped.
    """
    import re

    from toolkit.latency_transfer import complete_grid
    from toolkit.profile.devices import expand_specs, get_device
    from toolkit.profile.sweep import plan
    from toolkit.published import published_records
    from toolkit.records import latest_records
    from toolkit.results import ResultsDB, write_json_export
    from toolkit.variants import Variant

    grid = [Variant(a, r) for a in cfg.alphas for r in cfg.resolutions]
    wanted = {(c.variant.name, c.target, c.precision) for c in plan(cfg)}
    with ResultsDB(db) as store:
        records = store.records()
    ident = lambda r: (r["artifact"].get("variant"), r["artifact"].get("target"), r["artifact"].get("precision"))  # noqa: E731
    paths = []
    for spec in expand_specs(cfg.device_specs):
        name = get_device(spec).describe()["name"]
        mine = [r for r in records if r["device"]["name"] == name and ident(r) in wanted]
        if not mine:
            err_console.print(f"[yellow]no sampled variant was measured on {name}: nothing to predict from[/]")
            continue
        prior = [r for r in records if r["device"]["name"] != name] + published_records()
        predicted = complete_grid(mine, grid, prior)
        print_transfer(latest_records(mine), predicted)
        out = Path(report_dir) / f"predicted-{re.sub(r'[^A-Za-z0-9._-]+', '_', name)}.json"
        paths.append(write_json_export(predicted, out))
        console.print(f"predicted records (not measurements): {paths[-1]}", highlight=False)
    return paths
