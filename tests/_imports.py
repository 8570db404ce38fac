"""The package's import statements, read from source with ``ast`` (nothing is imported).

Shared by the import-graph test (no cycles, quantization stays low) and the declared-dependency test.
Every ``import``/``from ... import`` counts, including those inside functions, because a lazy import is
still an arrow between two modules; only ``if TYPE_CHECKING:`` blocks are left out (they never run).
"""

from __future__ import annotations

import ast
import itertools
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("toolkit", "quantization")


@dataclass(frozen=True)
class ImportStmt:
    """One imported name: ``module`` is absolute and dotted; ``name`` is set for ``from module import name``.

    ``lazy``: the import sits inside a function, so it runs when that function is called, not on import.
    """

    module: str
    name: str | None
    line: int
    type_checking: bool
    lazy: bool = False


def module_files(root: Path = ROOT, packages: Iterable[str] = PACKAGES) -> dict[str, Path]:
    """``{dotted module name: file}`` for every .py file of ``packages`` under ``root``."""
    out = {}
    for pkg in packages:
        for path in sorted((Path(root) / pkg).rglob("*.py")):
            parts = list(path.relative_to(root).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            out[".".join(parts)] = path
    return out


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def imports_of(path: Path, module: str) -> list[ImportStmt]:
    """Every import in the file, relative ones made absolute (``module`` is the file's dotted name)."""
    tree = ast.parse(Path(path).read_text(), filename=str(path))
    package = module if Path(path).name == "__init__.py" else module.rpartition(".")[0]
    out: list[ImportStmt] = []

    def visit(node: ast.AST, guarded: bool, lazy: bool) -> None:
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            for child in node.body:
                visit(child, True, lazy)
            for child in node.orelse:
                visit(child, guarded, lazy)
            return
        if isinstance(node, ast.Import):
            out.extend(ImportStmt(a.name, None, node.lineno, guarded, lazy) for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join([*anchor, *([base] if base else [])])
            out.extend(ImportStmt(base, a.name, node.lineno, guarded, lazy) for a in node.names)
        inner = lazy or isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
        for child in ast.iter_child_nodes(node):
            visit(child, guarded, inner)

    visit(tree, False, False)
    return out


def _reexports(files: dict[str, Path]) -> dict[str, dict[str, str]]:
    """``{package: {name: module it comes from}}`` for names a package ``__init__`` imports from a submodule
    (eagerly, or declared under TYPE_CHECKING for a lazy ``__getattr__``)."""
    out: dict[str, dict[str, str]] = {}
    for module, path in files.items():
        if path.name != "__init__.py":
            continue
        for stmt in imports_of(path, module):
            if stmt.name and stmt.module.startswith(module + "."):
                out.setdefault(module, {})[stmt.name] = stmt.module
    return out


def resolve(stmt: ImportStmt, modules: set[str], reexports: dict[str, dict[str, str]]) -> str | None:
    """The module of ours this import runs, or None for a third-party/stdlib one.

    ``from pkg import sub`` is the submodule; ``from pkg import name`` re-exported by ``pkg/__init__`` is the
    module that defines ``name`` (the ``__init__`` only forwards it); ``import a.b.c`` is the deepest of ours.
    """
    if stmt.name is not None:
        if f"{stmt.module}.{stmt.name}" in modules:
            return f"{stmt.module}.{stmt.name}"
        seen = set()
        module, name = stmt.module, stmt.name
        while name in reexports.get(module, {}) and (module, name) not in seen:
            seen.add((module, name))
            module = reexports[module][name]
        return module if module in modules else None
    parts = stmt.module.split(".")
    for n in range(len(parts), 0, -1):
        if ".".join(parts[:n]) in modules:
            return ".".join(parts[:n])
    return None


def import_graph(root: Path = ROOT, packages: Iterable[str] = PACKAGES) -> dict[str, dict[str, int]]:
    """``{module: {module it imports: first line}}`` over the packages' own modules (runtime imports only)."""
    files = module_files(root, packages)
    modules, reexports = set(files), _reexports(files)
    graph: dict[str, dict[str, int]] = {m: {} for m in files}
    for module, path in files.items():
        for stmt in imports_of(path, module):
            target = None if stmt.type_checking else resolve(stmt, modules, reexports)
            if target is not None and target != module:
                graph[module].setdefault(target, stmt.line)
    return graph


def cycles(graph: dict[str, dict[str, int]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan), each sorted, largest first."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def connect(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, {}):
            if w not in index:
                connect(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            connect(v)
    return sorted(found, key=lambda c: (-len(c), c))


def cycle_path(graph: dict[str, dict[str, int]], component: list[str]) -> str:
    """The shortest loop through ``component``'s first module, with the line of each import."""
    from collections import deque

    members, start = set(component), component[0]
    parent: dict[str, str] = {}
    queue = deque([start])
    while queue:
        v = queue.popleft()
        for w in sorted(graph[v]):
            if w == start:
                path = [v]
                while path[-1] != start:
                    path.append(parent[path[-1]])
                path = [*reversed(path), start]
                return " → ".join(f"{a}:{graph[a][b]}" for a, b in itertools.pairwise(path)) + f" → {start}"
            if w in members and w not in parent and w != start:
                parent[w] = v
                queue.append(w)
    return " ↔ ".join(component)


def third_party(root: Path = ROOT, packages: Iterable[str] = PACKAGES) -> dict[str, set[str]]:
    """``{top-level import name: {module that imports it}}`` for every non-stdlib, non-package import."""
    import sys

    files = module_files(root, packages)
    ours = {m.split(".")[0] for m in files}
    out: dict[str, set[str]] = {}
    for module, path in files.items():
        for stmt in imports_of(path, module):
            top = stmt.module.split(".")[0]
            if top and top not in ours and top not in sys.stdlib_module_names and not stmt.type_checking:
                out.setdefault(top, set()).add(module)
    return out
