"""Result records as the selection and the latency model see them: which configuration, which source.

A *configuration* is what one latency model is fitted on: (device, runtime, precision, delegate). The
delegate belongs to it because one phone and runtime can run a model on the CPU, the GPU or an NPU,
and those are different cost surfaces. Both :mod:`toolkit.select` and :mod:`toolkit.latency_model`
import this module, so neither imports the other.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from toolkit.errors import ToolkitError, UsageError

__all__ = [
    "DEFAULT_DELEGATE",
    "FILL_HINT",
    "SOURCES",
    "ConfigKey",
    "config_key",
    "config_label",
    "filter_records",
    "group_by_config",
    "latest_records",
    "source_of",
]

FILL_HINT = "run `toolkit sweep` (or `toolkit profile ARTIFACT...`) to measure some variants first"
SOURCES = ("measured", "published", "predicted")
DEFAULT_DELEGATE = "default"  # a record without a delegate ran on the runtime's default backend

ConfigKey = tuple[str, str, str, str]


def source_of(record: Mapping[str, Any]) -> str:
    """``measured`` (also when the field is absent: every record before the field existed), ``published``
    or ``predicted``."""
    return str(record.get("source") or "measured")


def config_key(record: Mapping[str, Any]) -> ConfigKey:
    """(device name, runtime name, precision, delegate) of a result record."""
    art = record.get("artifact", {})
    rt = record["runtime"]
    return (
        record["device"]["name"],
        rt["name"],
        art.get("precision") or "fp32",
        rt.get("delegate") or DEFAULT_DELEGATE,
    )


def config_label(key: ConfigKey) -> str:
    """``pixel3 tflite int8 (nnapi)``: how messages and tables name a configuration."""
    device, runtime, precision, delegate = key
    return f"{device} {runtime} {precision}" + ("" if delegate == DEFAULT_DELEGATE else f" ({delegate})")


def latest_records(records: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """The newest record per (variant, configuration); records without a variant are skipped."""
    best: dict[tuple[str, ConfigKey], Mapping[str, Any]] = {}
    for r in records:
        name = r.get("artifact", {}).get("variant")
        if not name:
            continue
        key = (name, config_key(r))
        if key not in best or str(r.get("timestamp", "")) >= str(best[key].get("timestamp", "")):
            best[key] = r
    return list(best.values())


def group_by_config(records: Iterable[Mapping[str, Any]]) -> dict[ConfigKey, list[Mapping[str, Any]]]:
    """The newest record per variant, grouped by configuration (sorted by key)."""
    groups: dict[ConfigKey, list[Mapping[str, Any]]] = {}
    for r in latest_records(records):
        groups.setdefault(config_key(r), []).append(r)
    return dict(sorted(groups.items()))


def filter_records(
    records: Iterable[Mapping[str, Any]],
    device: str | None = None,
    runtime: str | None = None,
    precision: str | None = None,
    delegate: str | None = None,
) -> list[Mapping[str, Any]]:
    """Records matching the filters; an unknown device/runtime/precision/delegate is a UsageError listing
    the known ones (among the records that passed the filters before it)."""
    records = list(records)
    if not records:
        raise ToolkitError(f"the results database is empty: {FILL_HINT}")
    filters = (("device", device), ("runtime", runtime), ("precision", precision), ("delegate", delegate))
    for pos, (what, value) in enumerate(filters):
        if value is None:
            continue
        known = sorted({config_key(r)[pos] for r in records})
        if value not in known:
            raise UsageError(f"unknown {what} {value!r}; measured ones: {', '.join(known)}")
        records = [r for r in records if config_key(r)[pos] == value]
    return records
