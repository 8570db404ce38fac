"""Every import is declared in pyproject.toml, under the extra that needs it.

Statically (ast): each third-party name imported anywhere in toolkit/ and quantization/ belongs to a
distribution pyproject.toml names directly (core or an extra). At run time, cheaply: each module is imported
in a fresh interpreter where a meta-path hook refuses (ModuleNotFoundError) every installed distribution
outside core + the extras of that module's own top-level imports, with what those declare in turn, so a
module that pulls an undeclared or optional package on import fails loudly. Modules are grouped by the extras
they need, one interpreter per group. Imports inside functions run only when used and are left to the first.
"""

from __future__ import annotations

import ast
import json
import re
import subprocess
import sys
from functools import cache
from importlib import metadata
from pathlib import Path

import pytest
from packaging.requirements import Requirement

from tests._imports import PACKAGES, ROOT, imports_of, module_files

tomllib = pytest.importorskip("tomllib", reason="reading pyproject.toml needs Python 3.11's tomllib")

OURS = {*PACKAGES, "tests"}


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


@cache
def declared() -> dict[str, tuple[Requirement, ...]]:
    """``{"": core requirements, extra: its requirements}`` from pyproject.toml (``all`` left out: it only groups)."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    extras = {k: v for k, v in project["optional-dependencies"].items() if k != "all"}
    return {"": tuple(map(Requirement, project["dependencies"])), **{k: tuple(map(Requirement, v))
                                                                     for k, v in extras.items()}}  # fmt: skip


def closure(requirements: tuple[Requirement, ...]) -> set[str]:
    """The distributions these requirements bring, with everything they require in turn (as installed here)."""
    seen: set[str] = set()
    todo = list(requirements)
    while todo:
        req = todo.pop()
        name = _norm(req.name)
        if name in seen:
            continue
        seen.add(name)
        try:
            requires = metadata.requires(req.name) or []
        except metadata.PackageNotFoundError:
            continue
        for text in requires:
            sub = Requirement(text)
            if sub.marker is None or any(sub.marker.evaluate({"extra": e}) for e in ("", *req.extras)):
                todo.append(sub)
    return seen


@cache
def distributions_of() -> dict[str, tuple[str, ...]]:
    """Top-level import name → the installed distributions that provide it."""
    return {name: tuple(_norm(d) for d in dists) for name, dists in metadata.packages_distributions().items()}


def _dists(import_name: str) -> tuple[str, ...]:
    return distributions_of().get(import_name) or (_norm(import_name),)  # not installed: its own name


def _third_party(name: str) -> bool:
    return bool(name) and name not in OURS and name not in sys.stdlib_module_names


def _top_level_requires(path: Path) -> set[str]:
    """Names passed to ``toolkit._deps.require("...")`` at module level: an import that happens on import."""
    found = set()
    todo: list[ast.AST] = [ast.parse(path.read_text())]
    while todo:
        node = todo.pop()
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            continue  # runs when called, not on import
        if (isinstance(node, ast.Call) and getattr(node.func, "id", None) == "require" and node.args
                and isinstance(node.args[0], ast.Constant)):  # fmt: skip
            found.add(str(node.args[0].value).split(".")[0])
        todo.extend(ast.iter_child_nodes(node))
    return found


def _extra_for(import_name: str) -> str:
    """The extra that declares ``import_name``'s distribution directly ("" = core), first by name."""
    for extra, reqs in declared().items():
        if set(_dists(import_name)) & {_norm(r.name) for r in reqs}:
            return extra
    return "?"


def module_groups() -> dict[tuple[str, ...], list[str]]:
    """``{extras needed on import: modules}``: each module by its own top-level third-party imports."""
    groups: dict[tuple[str, ...], list[str]] = {}
    for module, path in module_files().items():
        if module.endswith(".__main__"):
            continue  # runs the CLI when imported
        names = {s.module.split(".")[0] for s in imports_of(path, module) if not s.lazy and not s.type_checking}
        names = {n for n in names | _top_level_requires(path) if _third_party(n)}
        extras = tuple(sorted({_extra_for(n) for n in names} - {""}))
        groups.setdefault(extras, []).append(module)
    return groups


_HOOK = """
import importlib, json, sys, traceback
refused = set(json.loads(sys.argv[1]))

class Undeclared:
    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] in refused:
            raise ModuleNotFoundError(f"{name} (not declared for this module's extras)", name=name)
        return None

sys.meta_path.insert(0, Undeclared())
failed = {}
for module in json.loads(sys.argv[2]):
    try:
        importlib.import_module(module)
    except BaseException as e:
        failed[module] = f"{type(e).__name__}: {e}"
print(json.dumps(failed))
"""


def _refused(extras: tuple[str, ...]) -> list[str]:
    allowed = closure(tuple(r for e in ("", *extras) for r in declared()[e])) | {"mobilenet-toolkit"}
    return sorted(n for n, ds in distributions_of().items()
                  if _third_party(n) and not n.startswith("_") and not set(ds) & allowed)  # fmt: skip


def _installed(extras: tuple[str, ...]) -> bool:
    return all(metadata.packages_distributions() and _is_installed(r.name) for e in extras for r in declared()[e])


def _is_installed(dist: str) -> bool:
    try:
        metadata.version(dist)
        return True
    except metadata.PackageNotFoundError:
        return False


def test_every_third_party_import_is_declared_directly():
    named = {_norm(r.name) for reqs in declared().values() for r in reqs}
    undeclared = {}
    for module, path in module_files().items():
        for stmt in imports_of(path, module):
            top = stmt.module.split(".")[0]
            if _third_party(top) and not stmt.type_checking and not set(_dists(top)) & named:
                undeclared.setdefault(top, set()).add(f"{module}:{stmt.line}")
    assert undeclared == {}, f"imported but not named in pyproject.toml: {undeclared}"


def test_each_module_imports_with_only_core_and_its_own_extras():
    groups = module_groups()
    assert ("?",) not in groups, f"modules importing an undeclared package on import: {groups.get(('?',))}"
    assert len(groups[()]) > 50  # most modules need nothing beyond core on import
    problems, checked = {}, 0
    for extras, modules in sorted(groups.items()):
        if not _installed(extras):
            continue  # an extra this machine lacks (ios): its modules cannot be imported here at all
        run = subprocess.run([sys.executable, "-c", _HOOK, json.dumps(_refused(extras)), json.dumps(modules)],
                             capture_output=True, text=True, cwd=ROOT, env={"PYTHONPATH": str(ROOT), "PATH": ""},
                             timeout=600)  # fmt: skip
        assert run.returncode == 0, run.stderr[-2000:]
        problems.update({f"{m} [core{''.join('+' + e for e in extras)}]": why
                         for m, why in json.loads(run.stdout.splitlines()[-1]).items()})  # fmt: skip
        checked += len(modules)
    assert problems == {}
    assert checked > 80


@pytest.mark.parametrize("package", ["onnx", "matplotlib"])
def test_the_hook_refuses_what_is_not_declared(package):
    """The check can fail: a core-only interpreter refuses an optional runtime, and says why."""
    code = _HOOK.replace("print(json.dumps(failed))", "print(json.dumps(failed))\n")
    run = subprocess.run([sys.executable, "-c", code, json.dumps(_refused(())), json.dumps([package, "toolkit.data"])],
                         capture_output=True, text=True, cwd=ROOT, env={"PYTHONPATH": str(ROOT), "PATH": ""},
                         timeout=300)  # fmt: skip
    failed = json.loads(run.stdout.splitlines()[-1])
    assert list(failed) == [package] and "not declared for this module's extras" in failed[package]
