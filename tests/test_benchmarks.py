"""BENCHMARKS.md is rendered from the scripts' JSON, so no figure on it can be typed or edited by hand.

Each script in benchmarks/ records its command, the machine and the load beside its figures, marks a loaded
run itself, and has a quick mode; render.py turns the JSON into the page and says "not measured yet" where a
script has not run. Nothing here times anything.
"""

from __future__ import annotations

import ast
import json
import shutil
import sys
from pathlib import Path

import pytest

from tests._imports import ROOT

sys.path.insert(0, str(ROOT / "benchmarks"))
import _machine
import render

SCRIPTS = sorted((ROOT / "benchmarks").glob("bench_*.py"))


def test_the_committed_page_is_what_the_committed_json_renders_to():
    assert (ROOT / "BENCHMARKS.md").read_text(encoding="utf-8") == render.render(), (
        "BENCHMARKS.md differs from its JSON: run python benchmarks/render.py (never edit the page by hand)"
    )


def test_committed_json_carries_command_machine_and_load():
    docs = [json.loads(p.read_text()) for p in sorted(render.OUT.glob("*.json")) if p.stem in _sections()]
    assert docs, "no rendered benchmark has JSON"
    for doc in docs:
        assert doc["command"].startswith("python benchmarks/bench_") and not doc["quick"]
        assert doc["machine"]["cpu"] and doc["machine"]["cores"] >= 1 and "isa" in doc["machine"]
        assert len(doc["load"]["before"]) == len(doc["load"]["after"]) == 3 and doc["tables"]


def _sections() -> set[str]:
    return {s.name for s in render.SECTIONS}


def test_a_missing_run_says_so_instead_of_showing_figures(tmp_path):
    page = render.render(tmp_path)
    assert page.count("Not measured yet on this machine.") == len(render.SECTIONS)
    assert "|" not in page and "Measured " not in page
    for s in render.SECTIONS:
        assert f"## {s.title}" in page and f"Run `{s.command}`" in page


def _doc(tmp_path, before, after, cores=2, quick=False, monkeypatch=None) -> dict:
    loads = iter([before, after])
    monkeypatch.setattr(_machine.os, "getloadavg", lambda: next(loads))
    monkeypatch.setattr(_machine, "machine", lambda: {"cpu": "Test CPU", "isa": ["avx2", "fma"], "cores": cores,
                                                      "memory_gib": 8.0, "os": "Linux", "python": "3.11",
                                                      "toolkit": "0.0", "packages": {"torch": "2.x"}})  # fmt: skip
    run = _machine.start("bench_export", quick, ["--rounds", "2"])
    table = _machine.table("", ["variant", "median ms"], [["0.25-128", "1.234"]])
    path = _machine.finish(run, tables=[table], notes=["a note"], out=None if quick else tmp_path / "bench_export.json")
    return json.loads(path.read_text()) | {"_path": str(path)}


@pytest.mark.parametrize(
    ("before", "after", "why"),
    [((1.0, 1, 1), (1.5, 1, 1), None), ((2.5, 1, 1), (1.0, 1, 1), "load average before 2.5 on 2 cores"),
     ((0.5, 1, 1), (3.0, 1, 1), "load average after 3.0 on 2 cores")],
)  # fmt: skip
def test_the_script_itself_marks_a_loaded_run_and_the_page_shows_it(tmp_path, monkeypatch, before, after, why):
    doc = _doc(tmp_path, before, after, monkeypatch=monkeypatch)
    assert doc["load"]["loaded"] == why and doc["command"] == "python benchmarks/bench_export.py --rounds 2"
    page = render.render(tmp_path)
    assert ("**Loaded run**: " + why in page) if why else "Loaded run" not in page
    assert "| 0.25-128 | 1.234 |" in page and "- a note" in page and "Test CPU (avx2, fma), 2 cores" in page


def test_a_quick_run_is_kept_apart_from_the_rendered_figures(tmp_path, monkeypatch):
    monkeypatch.setattr(_machine, "OUT", tmp_path)
    doc = _doc(tmp_path, (0.1, 0, 0), (0.1, 0, 0), quick=True, monkeypatch=monkeypatch)
    assert Path(doc["_path"]) == tmp_path / "quick" / "bench_export.json" and doc["quick"]
    assert "Not measured yet" in render.section(render.SECTIONS[0], None)
    assert render.render(tmp_path).count("Not measured yet on this machine.") == len(render.SECTIONS)


def test_every_script_has_a_section_a_quick_mode_and_writes_through_the_shared_helper():
    names = {p.stem for p in SCRIPTS}
    assert names <= _sections() | {"bench_latency_model"}
    for path in SCRIPTS:
        source = path.read_text()
        tree = ast.parse(source)
        options = {a.value for n in ast.walk(tree) if isinstance(n, ast.Call) and getattr(n.func, "attr", "") ==
                   "add_argument" for a in n.args if isinstance(a, ast.Constant)}  # fmt: skip
        calls = {n.func.attr for n in ast.walk(tree) if isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute)
                 and getattr(n.func.value, "id", "") == "bm"}  # fmt: skip
        assert "--quick" in options, f"{path.name} has no --quick"
        assert {"start", "finish"} <= calls, f"{path.name} does not record its run through benchmarks/_machine.py"
        assert "getloadavg" not in source and "platform.platform" not in source, f"{path.name} copies _machine"


def test_check_mode_fails_on_a_hand_edited_page(tmp_path, monkeypatch):
    page = tmp_path / "BENCHMARKS.md"
    shutil.copy(ROOT / "BENCHMARKS.md", page)
    monkeypatch.setattr(render, "PAGE", page)
    assert render.main(["--check"]) == 0
    page.write_text(page.read_text().replace("Benchmarks", "Benchmarks (edited)", 1))
    assert render.main(["--check"]) == 1
