"""Imports run one way, down the pipeline: weights → model → quantize → export → verify → profile → results →
report/select, with the CLI on top. Read from the source with ``ast`` (tests/_imports.py), imports inside
functions included, so a cycle cannot hide behind a lazy import.
"""

from __future__ import annotations

from pathlib import Path

from tests._imports import cycle_path, cycles, import_graph

# What the quantization library may use from the toolkit: the layers below the pipeline.
QUANTIZATION_MAY_IMPORT = ("toolkit.errors", "toolkit.data", "toolkit.variants", "toolkit.cost", "toolkit.models",
                           "toolkit._deps")  # fmt: skip
# The layers, lowest first (docs/architecture.md draws them): a module imports only its own layer and those below.
# A name ending in "$" is that module alone; otherwise it is a prefix, and the longest matching name decides.
LAYERS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("foundations", ("toolkit$", "toolkit.errors", "toolkit._deps", "toolkit.variants", "toolkit.cost",
                     "toolkit.numeric", "toolkit.data", "toolkit.records", "toolkit.schemas", "toolkit.sampling",
                     "toolkit.published", "toolkit.profile.stats", "toolkit.console", "toolkit.interrupts",
                     "toolkit.paths", "toolkit.between_runs")),
    ("model and weights", ("toolkit.models", "toolkit.keras_h5", "toolkit.weights", "toolkit.builder",
                           "toolkit.imagefolder")),
    ("quantization", ("quantization",)),
    ("runtimes", ("toolkit.runtimes",)),
    ("exporters", ("toolkit.export",)),
    ("verify", ("toolkit.verify",)),
    ("export pipeline", ("toolkit.export$", "toolkit.export.pipeline", "toolkit.export.quantized")),
    ("results store", ("toolkit.results",)),
    ("training", ("toolkit.train", "toolkit.training", "toolkit.evaluate")),
    ("profiling", ("toolkit.profile",)),
    ("latency model, selection, report", ("toolkit.latency_model", "toolkit.latency_transfer", "toolkit.select",
                                          "toolkit.report")),
    ("cli", ("toolkit.cli", "toolkit.__main__")),
)  # fmt: skip
# Modules that know artifacts and records but not what made them (DESIGN.md "Which way the arrows point").
NEVER_REACHES = {
    "toolkit.verify": ("toolkit.export.pipeline", "toolkit.profile", "toolkit.results"),
    "toolkit.results": ("toolkit.profile", "toolkit.export", "toolkit.runtimes"),
    "toolkit.latency_model": ("toolkit.export", "toolkit.profile", "toolkit.runtimes", "toolkit.results"),
}


def _under(module: str, prefixes: tuple[str, ...]) -> bool:
    return any(module == p or module.startswith(p + ".") for p in prefixes)


def layer_of(module: str) -> int | None:
    """Index into LAYERS of ``module`` (the longest matching name wins; an exact name beats a prefix)."""
    best: tuple[int, int] | None = None
    for i, (_, names) in enumerate(LAYERS):
        for name in names:
            exact = name.endswith("$")
            hit = module == name.rstrip("$") if exact else _under(module, (name,))
            rank = 2 * len(name.rstrip("$")) + exact
            if hit and (best is None or rank > best[1]):
                best = (i, rank)
    return None if best is None else best[0]


def upward_imports(graph: dict[str, dict[str, int]]) -> list[str]:
    """Each import of a module in a higher layer (or of/by a module no layer names), as ``module:line → target``."""
    out = []
    for module, targets in sorted(graph.items()):
        for target, line in sorted(targets.items()):
            here, there = layer_of(module), layer_of(target)
            if here is None or there is None or there > here:
                name = lambda i: LAYERS[i][0] if i is not None else "no layer"  # noqa: E731
                out.append(f"{module}:{line} ({name(here)}) → {target} ({name(there)})")
    return out


def layer_violations(graph: dict[str, dict[str, int]]) -> list[str]:
    """Each import from ``quantization`` into the toolkit above its lowest layers, as ``module:line → target``."""
    return [
        f"{module}:{line} → {target}"
        for module, targets in sorted(graph.items())
        if _under(module, ("quantization",))
        for target, line in sorted(targets.items())
        if target.startswith("toolkit") and not _under(target, QUANTIZATION_MAY_IMPORT)
    ]


def reachable(graph: dict[str, dict[str, int]], start: str) -> set[str]:
    seen, todo = set(), [start]
    while todo:
        for nxt in graph.get(todo.pop(), {}):
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    return seen


def _report(graph: dict[str, dict[str, int]]) -> str:
    return "\n".join(cycle_path(graph, c) for c in cycles(graph))


def test_the_packages_have_no_import_cycle():
    graph = import_graph()
    assert len(graph) > 80 and "toolkit.export.pipeline" in graph and "quantization.hooks" in graph
    assert cycles(graph) == [], "import cycles (module:line of each import):\n" + _report(graph)


def test_quantization_uses_only_the_lowest_toolkit_layers():
    graph = import_graph()
    assert layer_violations(graph) == []
    # the exporters call quantization (that arrow must exist, or this test checks an empty graph)
    assert "quantization.hooks" in graph["toolkit.export.executorch"]


def test_every_import_points_down_the_layers():
    graph = import_graph()
    assert all(layer_of(m) is not None for m in graph), [m for m in graph if layer_of(m) is None]
    assert upward_imports(graph) == [], "imports that point up (move the function down or pass the value in)"


def test_verify_results_and_the_latency_model_do_not_reach_what_made_their_inputs():
    graph = import_graph()
    for module, forbidden in NEVER_REACHES.items():
        assert module in graph
        bad = sorted(m for m in reachable(graph, module) if _under(m, forbidden))
        assert bad == [], f"{module} imports (directly or through others) {bad}"


def _write(root: Path, files: dict[str, str]) -> None:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def test_the_walker_finds_a_cycle_hidden_in_a_function_and_a_relative_import(tmp_path):
    """The checks above can fail: a synthetic tree with the shapes this codebase uses."""
    _write(tmp_path, {
        "toolkit/__init__.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from toolkit.b import thing\n",
        "toolkit/a.py": "def f():\n    from toolkit import thing  # re-exported by the package: really toolkit.b\n",
        "toolkit/b.py": "from .c import helper\nthing = 1\n",
        "toolkit/c.py": "import os\n\ndef helper():\n    import toolkit.a\n",
        "toolkit/d.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import toolkit.a\n",
        "toolkit/export/__init__.py": "",
        "toolkit/export/pipeline.py": "from toolkit import errors\n",
        "toolkit/errors.py": "",
        "quantization/__init__.py": "",
        "quantization/hooks.py": "from toolkit.errors import x\ndef g():\n    from toolkit.export.pipeline import y\n",
    })  # fmt: skip
    graph = import_graph(tmp_path)
    assert cycles(graph) == [["toolkit.a", "toolkit.b", "toolkit.c"]]
    assert _report(graph) == "toolkit.a:2 → toolkit.b:1 → toolkit.c:4 → toolkit.a"
    assert graph["toolkit.d"] == {}  # a TYPE_CHECKING import never runs
    assert layer_violations(graph) == ["quantization.hooks:3 → toolkit.export.pipeline"]
    assert "toolkit.export.pipeline" in reachable(graph, "quantization.hooks")
    assert "quantization.hooks:3 (quantization) → toolkit.export.pipeline (export pipeline)" in upward_imports(graph)
    assert "toolkit.a:2 (no layer) → toolkit.b (no layer)" in upward_imports(graph)
