"""The JSON schemas every part of the pipeline agrees on, and the one check of a result record.

The check lives here, below both the profilers that write records and the store that keeps them, so
``toolkit.results`` never imports the profiling code (imports run down the pipeline, never back).
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

__all__ = ["load_schema", "result_schema_problem", "validate_record"]

_DIR = Path(__file__).resolve().parent


@cache
def load_schema(name: str) -> dict[str, Any]:
    """``result`` or ``manifest``: the parsed schema, read once per process."""
    return json.loads((_DIR / f"{name}.schema.json").read_text(encoding="utf-8"))


def result_schema_problem(record: dict[str, Any]) -> str | None:
    """The first way ``record`` breaks the shared result schema ("at PATH: message"), or None.

    One check for every writer (host, Android app, iOS app, cloud services, published data).
    """
    import jsonschema

    validator = jsonschema.Draft202012Validator(load_schema("result"))
    errors = sorted(validator.iter_errors(record), key=lambda e: list(e.path))
    if not errors:
        return None
    where = "/".join(str(p) for p in errors[0].absolute_path) or "(record)"
    return f"at {where}: {errors[0].message[:200]}"


def validate_record(record: dict[str, Any]) -> None:
    """Raise ToolkitError (one line: the JSON path and the problem) unless ``record`` fits the schema."""
    from toolkit.errors import ToolkitError

    problem = result_schema_problem(record)
    if problem:
        raise ToolkitError(f"result record does not match the schema {problem}")
