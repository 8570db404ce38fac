"""Pick the variant to ship: the most accurate one whose latency fits a budget, plus the Pareto frontier.

Candidates are result records in the shared schema (``toolkit/schemas/result.schema.json``), one per
(variant, device, runtime, precision, delegate), optionally completed by latency-model predictions
(:mod:`toolkit.latency_transfer`) for variants nobody measured. A candidate *fits* when a pessimistic
latency fits: for ``metric="median"`` the upper end of the 95% CI of the median (measured), of the
prediction interval (predicted) or the figure itself (published: no spread is known), for
``metric="p90"`` the p90 (or the predicted upper end). Ties on accuracy go to the lower latency, then to
fewer mult-adds.

Core functions take plain lists of records so they are testable without the results database;
:func:`records_from_db` is the thin adapter to :mod:`toolkit.results`.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from toolkit.cost import count
from toolkit.errors import ToolkitError, UsageError
from toolkit.profile.intervals import flags_of, stated_interval
from toolkit.records import DEFAULT_DELEGATE, FILL_HINT, config_key, filter_records, latest_records, source_of
from toolkit.variants import Variant, parse_name, published_variants

__all__ = [
    "Candidate",
    "Confirmation",
    "Selection",
    "confirm_pick",
    "flagged_choices",
    "gather_records",
    "load_accuracy",
    "load_records",
    "pareto_frontier",
    "records_from_db",
    "select",
]

METRICS = ("median", "p90")


@dataclass(frozen=True)
class Candidate:
    """One variant on one (device, runtime, precision) with its latency and accuracy.

    ``latency_ms`` is the central value (median or p90); ``bound_ms`` is the pessimistic value the
    budget is checked against. ``predicted`` marks values from the latency model, ``published`` figures
    from a cited document (the built-in published devices); neither is a measurement of yours.
    """

    variant: Variant
    device: str
    runtime: str
    precision: str
    latency_ms: float
    bound_ms: float
    low_ms: float
    accuracy: float | None  # top-1 in percent
    accuracy_source: str
    macs: int
    predicted: bool = False
    delegate: str = DEFAULT_DELEGATE
    published: bool = False

    @property
    def name(self) -> str:
        return self.variant.name

    @property
    def where(self) -> str:
        """``tflite int8 (pixel3, nnapi)``: the configuration, as messages name it."""
        on = self.device if self.delegate == DEFAULT_DELEGATE else f"{self.device}, {self.delegate}"
        return f"{self.runtime} {self.precision} ({on})"


@dataclass(frozen=True)
class Selection:
    """The answer: ``pick`` (None when nothing fits), runners-up, the frontier and the fastest candidate."""

    budget_ms: float
    metric: str
    pick: Candidate | None
    runners_up: tuple[Candidate, ...]
    frontier: tuple[Candidate, ...]
    fastest: Candidate
    candidates: tuple[Candidate, ...] = field(repr=False, default=())

    @property
    def message(self) -> str:
        """One line saying what was chosen or, when nothing fits, what the fastest option costs."""
        if self.pick is not None:
            p = self.pick
            tag = " (predicted)" if p.predicted else " (published)" if p.published else ""
            return (f"ship {p.name} on {p.where}: {_acc(p.accuracy)} top-1, "
                    f"{self.metric} ≤ {p.bound_ms:.3g} ms{tag} within the {self.budget_ms:g} ms budget")  # fmt: skip
        f = self.fastest
        return (f"no variant fits {self.budget_ms:g} ms ({self.metric}, upper bound); the fastest is {f.name} "
                f"on {f.where} at {f.bound_ms:.3g} ms")  # fmt: skip


def _acc(a: float | None) -> str:
    return "?" if a is None else f"{a:.1f}%"


# --------------------------------------------------------------------------------------------- accuracy


def load_accuracy(path: str | Path | None) -> dict[str, float]:
    """Read a user accuracy file: ``{"mobilenet_v1-a0.50-r160": 59.1, ...}``.

    Values are top-1 in percent, or a fraction in [0, 1] (what ``toolkit eval`` / EvalResult.top1 gives),
    or an object with a ``top1`` key. A key ``"<variant>:<precision>"`` overrides the plain variant for
    that precision (e.g. the accuracy of the int8 model).
    """
    if path is None:
        return {}
    p = Path(path)
    try:
        raw = json.loads(p.read_text())
    except FileNotFoundError:
        raise UsageError(f"accuracy file not found: {p}") from None
    except (OSError, json.JSONDecodeError) as e:
        raise UsageError(f"cannot read accuracy file {p}: {e}") from None
    if not isinstance(raw, dict):
        raise UsageError(f"accuracy file {p} must map variant names to top-1 values")
    out: dict[str, float] = {}
    for key, value in raw.items():
        top1 = value.get("top1") if isinstance(value, dict) else value
        if not isinstance(top1, (int, float)) or not 0 <= top1 <= 100:
            raise UsageError(f"accuracy file {p}: {key!r} needs a top-1 in [0, 1] or [0, 100], got {top1!r}")
        parse_name(key.split(":")[0])  # validates the variant name
        out[key] = float(top1) * 100.0 if top1 <= 1.0 else float(top1)
    return out


def accuracy_of(variant: Variant, precision: str, user: Mapping[str, float]) -> tuple[float | None, str]:
    """Top-1 (percent) and where it came from: the user's file first, then the published float table."""
    for key in (f"{variant.name}:{precision}", variant.name):
        if key in user:
            return user[key], "eval"
    pub = variant.accuracy
    return (pub.top1, "published") if pub else (None, "unknown")


# -------------------------------------------------------------------------------------------- selection


def _measured(r: Mapping[str, Any], metric: str, user_acc: Mapping[str, float]) -> Candidate:
    """A record as a candidate: measured, published (the figure is its own bound) or a saved prediction."""
    v = parse_name(r["artifact"]["variant"])
    s = r["stats"]
    device, runtime, precision, delegate = config_key(r)
    if source_of(r) == "predicted":  # a saved prediction (e.g. `sweep --sample`'s file): its interval bounds it
        central, low, bound = s["median_ms"], r["prediction"]["low_ms"], r["prediction"]["high_ms"]
    elif metric == "median":  # the stated interval: between rounds where the host measured in rounds
        central, (low, bound) = s["median_ms"], stated_interval(r)
    else:
        central = low = bound = s["p90_ms"]
    acc, src = accuracy_of(v, precision, user_acc)
    return Candidate(v, device, runtime, precision, float(central), float(bound), float(low), acc, src,
                     count(v.alpha, v.resolution).macs, predicted=source_of(r) == "predicted", delegate=delegate,
                     published=source_of(r) == "published")  # fmt: skip


def _predicted(
    records: Sequence[Mapping[str, Any]],
    metric: str,
    user_acc: Mapping[str, float],
    prior: Sequence[Mapping[str, Any]] = (),
) -> list[Candidate]:
    """Model predictions for every variant with a known accuracy that a configuration has not measured."""
    from toolkit.latency_transfer import fit_models

    wanted = {v.name: v for v in published_variants()}
    wanted.update({k.split(":")[0]: parse_name(k.split(":")[0]) for k in user_acc})
    out = []
    for key, model in fit_models(records, prior, stat=f"{metric}_ms").items():
        published = all(source_of(r) == "published" for r in records if config_key(r) == key)
        for name, v in sorted(wanted.items()):
            if name in model.variants:
                continue
            p = model.predict(v)
            acc, src = accuracy_of(v, key[2], user_acc)
            out.append(Candidate(v, *key[:3], p.median_ms, p.high_ms, p.low_ms, acc, src,
                                 count(v.alpha, v.resolution).macs, predicted=True, delegate=key[3],
                                 published=published))  # fmt: skip
    return out


def pareto_frontier(candidates: Iterable[Candidate]) -> tuple[Candidate, ...]:
    """Candidates no other one beats on both accuracy and (central) latency, fastest first.

    Among equal latencies the more accurate wins, then the one with fewer mult-adds; a candidate must be
    strictly more accurate than every faster one to be on the frontier.
    """
    ranked = sorted(
        (c for c in candidates if c.accuracy is not None), key=lambda c: (c.latency_ms, -c.accuracy, c.macs)
    )
    frontier: list[Candidate] = []
    for c in ranked:
        if not frontier or c.accuracy > frontier[-1].accuracy:
            frontier.append(c)
    return tuple(frontier)


def select(
    records: Iterable[Mapping[str, Any]],
    budget_ms: float,
    device: str | None = None,
    runtime: str | None = None,
    precision: str | None = None,
    metric: str = "median",
    accuracy: Mapping[str, float] | str | Path | None = None,
    include_predicted: bool = True,
    runners_up: int = 4,
    delegate: str | None = None,
    prior_records: Sequence[Mapping[str, Any]] = (),
) -> Selection:
    """The most accurate candidate whose pessimistic latency fits ``budget_ms``, runners-up and frontier.

    Args:
        records: result records (schema dicts); the newest per variant and configuration is used.
        metric: ``"median"`` checks the upper end of the median's 95% CI, ``"p90"`` the p90.
        accuracy: a user accuracy mapping or JSON file (:func:`load_accuracy`); the published table otherwise.
        include_predicted: add latency-model predictions for unmeasured variants (marked ``predicted``).
        prior_records: other devices' records the few-shot transfer may borrow a surface shape from, for
            configurations with few measured variants (:func:`toolkit.latency_transfer.fit_models`).

    Raises ToolkitError for an empty record list, UsageError for a bad budget/metric or unknown filters.
    """
    if metric not in METRICS:
        raise UsageError(f"metric must be one of {', '.join(METRICS)}, got {metric!r}")
    if not (budget_ms > 0 and math.isfinite(budget_ms)):
        raise UsageError(f"the latency budget must be a positive number of ms, got {budget_ms}")
    user = accuracy if isinstance(accuracy, Mapping) else load_accuracy(accuracy)
    recs = latest_records(filter_records(records, device, runtime, precision, delegate))
    if not recs:
        raise ToolkitError(f"no result records name a variant: {FILL_HINT}")
    cands = [_measured(r, metric, user) for r in recs]
    if include_predicted:
        cands += _predicted(recs, metric, user, prior_records)
    ranked = sorted((c for c in cands if c.accuracy is not None), key=lambda c: (-c.accuracy, c.bound_ms, c.macs))
    fits = [c for c in ranked if c.bound_ms <= budget_ms]
    fastest = min(cands, key=lambda c: (c.bound_ms, c.predicted, c.macs))
    return Selection(budget_ms, metric, fits[0] if fits else None, tuple(fits[1 : 1 + runners_up]),
                     pareto_frontier(cands), fastest, tuple(cands))  # fmt: skip


def flagged_choices(sel: Selection, records: Iterable[Mapping[str, Any]]) -> list[str]:
    """One line per shown choice (pick, runners-up) whose measurement is flagged busy or bimodal."""
    latest = {(r["artifact"].get("variant"), config_key(r)): r for r in latest_records(records)}
    out = []
    for role, c in [("pick", sel.pick), *(("runner-up", c) for c in sel.runners_up)]:
        if c is None or c.predicted or c.published:
            continue
        rec = latest.get((c.name, (c.device, c.runtime, c.precision, c.delegate)))
        flags = flags_of(rec) if rec is not None else []
        if flags:
            out.append(f"the {role} {c.name} ({c.where}) leans on a measurement flagged {', '.join(flags)}: "
                       "re-measure it on a quiet machine before trusting the budget check")  # fmt: skip
    return out


def records_from_db(path: str | Path | None = None) -> list[dict[str, Any]]:
    """Every result record in the results database (:mod:`toolkit.results`, the profiling harness's store)."""
    from toolkit import results

    db = Path(path) if path is not None else results.default_db_path()
    if not db.exists():  # opening would create an empty one: say what fills it instead
        raise ToolkitError(f"no results database at {db}: {FILL_HINT}, or pass --db PATH")
    with results.ResultsDB(db) as store:
        return store.records()


def load_records(db: str | Path | None = None, files: Sequence[str | Path] | None = None) -> list[dict[str, Any]]:
    """Result records from files (JSON list/export, one record, or a DB) when given, else from the database."""
    if not files:
        return records_from_db(db)
    from toolkit import results

    return [r for f in files for r in results.load_records(f)]


def gather_records(
    device: str | None = None,
    runtime: str | None = None,
    precision: str | None = None,
    delegate: str | None = None,
    *,
    db: str | Path | None = None,
    files: Sequence[str | Path] | None = None,
    include_published: bool = False,
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(candidate records, transfer prior) for a ``select`` or ``predict-latency`` request.

    A built-in published device (one your records do not name) reads its published figures alone, with
    no database needed; anything else reads your records, plus every published one when
    ``include_published``. The prior, which only lends the few-shot transfer a surface shape, is every
    record at hand: yours and the published ones (:mod:`toolkit.latency_transfer` skips the device itself).
    """
    from toolkit import published, results

    path = Path(db) if db is not None else results.default_db_path()
    if not files and not path.exists() and (include_published or published.is_published_device(device)):
        user = []  # the published figures stand on their own: no sweep needed
    else:
        user = load_records(db, files)
    builtin = published.published_records()
    if published.is_published_device(device) and device not in {r["device"]["name"] for r in user}:
        published.check_request(device, runtime, precision, delegate)
        return [r for r in builtin if r["device"]["name"] == device], user + builtin
    return user + (builtin if include_published else []), user + builtin


TARGET_OF_RUNTIME = {"onnxruntime": "onnx", "executorch": "executorch", "tflite": "tflite", "coreml": "coreml"}


@dataclass(frozen=True)
class Confirmation:
    """A fresh host measurement of the pick, next to what the selection assumed."""

    record: dict[str, Any]
    fits: bool
    message: str


def confirm_pick(sel: Selection, records: Sequence[Mapping[str, Any]], db: str | Path | None = None) -> Confirmation:
    """Measure ``sel.pick`` on this host (same runtime, precision, delegate and threads as its configuration)
    with the profiling harness's protocol, and store the record.

    Only host picks can be confirmed here; a phone pick says which command measures it there.
    """
    pick = sel.pick
    if pick is None:
        raise ToolkitError(sel.message)
    from toolkit.profile.host import HostDevice
    from toolkit.profile.interleaved import random_weight_artifact
    from toolkit.profile.protocol import ProfileConfig
    from toolkit.results import ResultsDB

    host = HostDevice()
    if pick.published or pick.device != host.describe()["name"] or pick.runtime not in TARGET_OF_RUNTIME:
        target = TARGET_OF_RUNTIME.get(pick.runtime, pick.runtime)
        raise ToolkitError(f"--measure runs on this host only; measure {pick.name} on {pick.device} with "
                           f"`toolkit sweep --device android|ios --alphas {pick.variant.alpha:g} "
                           f"--resolutions {pick.variant.resolution} --targets {target}`")  # fmt: skip
    key = (pick.device, pick.runtime, pick.precision, pick.delegate)
    same = [r for r in records if config_key(r) == key]
    threads = int(same[0]["config"]["threads"]) if same else 2
    artifact = random_weight_artifact(pick.variant, TARGET_OF_RUNTIME[pick.runtime], pick.precision).path
    rec = host.run(artifact, ProfileConfig(threads=threads))
    with ResultsDB(db) as store:
        store.insert(rec)
    measured = _measured(rec, sel.metric, {})
    fits = measured.bound_ms <= sel.budget_ms
    was = "predicted" if pick.predicted else "measured before"
    msg = (f"measured {pick.name}: {sel.metric} {measured.latency_ms:.3g} ms (checked {measured.bound_ms:.3g} ms; "
           f"{was} {pick.latency_ms:.3g} [{pick.low_ms:.3g}, {pick.bound_ms:.3g}]): "
           + ("fits the budget" if fits else f"does NOT fit {sel.budget_ms:g} ms; rerun `toolkit select`"))  # fmt: skip
    return Confirmation(rec, fits, msg)
