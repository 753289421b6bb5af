"""The house's arrows point one way (HOUSE.md, step 1), read from the source with ``ast``.

Imports made inside functions count like any other: hiding an import in a function does not
make the dependency go away, it only delays the error. The graph covers ``backend``,
``mobile_web`` and ``admin``.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("backend", "mobile_web", "admin")
# The kernel every feature builds on: it imports no feature (nor auth, which reaches them).
KERNEL = ("backend.extensions", "backend.errors", "backend.config")
KERNEL_MAY_IMPORT = {*KERNEL, "backend.schemas"}
# The one place that wires blueprints and CLI groups together.
APP_FACTORY = "backend.app"


def _modules() -> dict[str, Path]:
    mods = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            name = ".".join(path.relative_to(ROOT).with_suffix("").parts)
            mods[name.removesuffix(".__init__")] = path
    return mods


MODULES = _modules()


def _imported(module: str, node: ast.Import | ast.ImportFrom) -> list[str]:
    """The modules of ours an import statement loads (a name imported from a package that is
    itself a module counts as that module)."""
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names if alias.name in MODULES]
    if node.level:
        is_package = MODULES[module].name == "__init__.py"
        base = module.split(".") if is_package else module.split(".")[:-1]
        base = base[: len(base) - node.level + 1]
        package = ".".join(base + ([node.module] if node.module else []))
    else:
        package = node.module or ""
    out = []
    for alias in node.names:
        full = f"{package}.{alias.name}"
        if full in MODULES:
            out.append(full)
        elif package in MODULES:
            out.append(package)
    return out


def _edges(module: str, source: str) -> set[str]:
    """Every module of ours that ``source`` imports, at the top or inside a function."""
    edges: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import | ast.ImportFrom):
            edges.update(t for t in _imported(module, node) if t != module)
    return edges


def _graph() -> dict[str, set[str]]:
    return {m: _edges(m, path.read_text(encoding="utf-8")) for m, path in MODULES.items()}


GRAPH = _graph()


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []
    for root in graph:
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    out.append(sorted(component))
    return out


def test_the_cycle_finder_finds_a_cycle():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert _cycles(graph) == [["a", "b", "c"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_cycles_in_backend_counting_imports_inside_functions():
    """(The page packages register their views on the blueprint their ``__init__`` makes, in
    Flask's usual way: a package importing its own modules, left out here.)"""
    backend = {m: {t for t in ts if t.startswith("backend")} for m, ts in GRAPH.items()}
    assert _cycles({m: ts for m, ts in backend.items() if m.startswith("backend")}) == []


def test_routes_and_cli_modules_are_imported_only_by_the_app_factory():
    wiring = {
        (module, target)
        for module, targets in GRAPH.items()
        for target in targets
        if target.rsplit(".", 1)[-1] in {"routes", "cli"} and module != APP_FACTORY
    }
    assert wiring == set()


@pytest.mark.parametrize("kernel", KERNEL)
def test_the_kernel_imports_no_feature(kernel):
    assert GRAPH[kernel] - KERNEL_MAY_IMPORT == set()


def test_the_graph_sees_imports_inside_functions_and_relative_ones():
    """A guard on the guard: an import hidden in a function is an edge like any other."""
    source = "def key():\n    from .auth import api_user\n    import backend.partners.auth\n"
    assert _edges("backend.extensions", source) == {"backend.auth", "backend.partners.auth"}
    assert _edges("backend.events", "from . import services") == {"backend.events.services"}
    assert _edges("backend.events.routes", "from .. import errors") == {"backend.errors"}
