"""The published phone latencies, built in: a read-only device set nobody has to measure.

The TensorFlow Lite hosted-models and benchmark pages printed MobileNet V1 latencies on Pixel 2, Pixel 3,
Pixel 4, Pixel XL, iPhone 8 and iPhone XS. ``toolkit/assets/published_latency.json`` holds them as
result-schema records marked ``source: "published"`` with their citations (made from
``assets/published/hosted_models.md`` by ``scripts/make_published_data.py``). They are never stored in
a user's results DB and never pooled with measured records into one fit; ``toolkit select --device
pixel3`` reads them directly, and the few-shot transfer uses them as other devices' evidence.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from functools import cache
from importlib import resources
from typing import Any

from toolkit.errors import UsageError
from toolkit.records import DEFAULT_DELEGATE, ConfigKey, group_by_config

__all__ = ["check_request", "devices", "is_published_device", "published_records"]


@cache
def _document() -> dict[str, Any]:
    text = (resources.files("toolkit") / "assets" / "published_latency.json").read_text(encoding="utf-8")
    return json.loads(text)


def published_records(device: str | None = None) -> list[dict[str, Any]]:
    """Every published record (fresh copies, so callers may not alter the built-in set), or one device's."""
    recs = _document()["records"]
    return [json.loads(json.dumps(r)) for r in recs if device is None or r["device"]["name"] == device]


def is_published_device(name: str | None) -> bool:
    return name is not None and any(r["device"]["name"] == name for r in _document()["records"])


def devices() -> dict[str, dict[str, Any]]:
    """name → {"device": its device block, "configs": {config key: [variant names]}, "sources": [doc keys]}."""
    out: dict[str, dict[str, Any]] = {}
    for key, recs in group_by_config(_document()["records"]).items():
        entry = out.setdefault(key[0], {"device": recs[0]["device"], "configs": {}, "sources": []})
        entry["configs"][key] = sorted(r["artifact"]["variant"] for r in recs)
        for r in recs:
            if r["citation"]["key"] not in entry["sources"]:
                entry["sources"].append(r["citation"]["key"])
    return out


def _describe(configs: Mapping[ConfigKey, list[str]]) -> str:
    """``tflite fp32 (cpu, gpu, nnapi), tflite int8 (cpu, nnapi)``."""
    by: dict[tuple[str, str], list[str]] = {}
    for _dev, runtime, precision, delegate in configs:
        by.setdefault((runtime, precision), []).append(delegate)
    return ", ".join(
        f"{rt} {prec} ({', '.join(d for d in dels if d != DEFAULT_DELEGATE)})" for (rt, prec), dels in by.items()
    )


def check_request(device: str, runtime: str | None, precision: str | None, delegate: str | None) -> None:
    """UsageError naming what exists when a published device has no figures for the request."""
    configs = devices()[device]["configs"]
    match = [k for k in configs if (runtime in (None, k[1]) and precision in (None, k[2]) and delegate in (None, k[3]))]
    if not match:
        asked = " ".join(x for x in (runtime, precision, delegate) if x)
        raise UsageError(f"{device} has no published figures for {asked}; it has: {_describe(configs)}")
