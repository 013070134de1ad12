"""The package's import graph, read from the source with ``ast``: no module imports itself
back through others.

Every import counts -- top-level, inside a function, under ``if TYPE_CHECKING:`` -- except
the function-level lazy imports listed in :data:`LAZY`, each with its reason. Importing a
module binds its package first, but ``from pkg import submodule`` depends on the submodule,
not on what ``pkg/__init__.py`` defines, so it is counted as an edge to the submodule alone.
"""

from __future__ import annotations

import ast
from pathlib import Path

import patchkit

PACKAGE = Path(patchkit.__file__).parent

# (importer, imported): why the import is deferred to a function, against the layers' order.
LAZY: dict[tuple[str, str], str] = {
    ("patchkit._follow_hook", "patchkit.audit.follow"):
        "the .pth start-up hook runs in every interpreter and imports only the standard "
        "library; it loads the follower only when PATCHKIT_AUDIT_FOLLOW asks for it",
}


def _modules() -> dict[str, Path]:
    modules = {}
    for path in PACKAGE.rglob("*.py"):
        parts = ["patchkit", *path.relative_to(PACKAGE).with_suffix("").parts]
        if parts[-1] == "__init__":
            parts.pop()
        modules[".".join(parts)] = path
    return modules


def _targets(node: ast.Import | ast.ImportFrom, module: str, is_package: bool,
             modules: dict[str, Path]) -> set[str]:
    if isinstance(node, ast.Import):
        names = [alias.name for alias in node.names]
    else:
        base = node.module or ""
        if node.level:
            anchor = module if is_package else module.rpartition(".")[0]
            for _ in range(node.level - 1):
                anchor = anchor.rpartition(".")[0]
            base = f"{anchor}.{base}" if base else anchor
        subs = [f"{base}.{alias.name}" for alias in node.names]
        found = [s for s in subs if s in modules]
        names = found if len(found) == len(subs) else [base, *found]
    out = set()
    for name in names:
        while name and name not in modules:  # a name inside a module: the module
            name = name.rpartition(".")[0]
        if name and name != module:
            out.add(name)
    return out


def _lazy_edges(tree: ast.Module) -> set[int]:
    """ids of the import nodes inside a function body."""
    inside = set()
    for fn in ast.walk(tree):
        if isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)):
            inside |= {id(n) for n in ast.walk(fn) if isinstance(n, (ast.Import, ast.ImportFrom))}
    return inside


def import_graph() -> tuple[dict[str, set[str]], set[tuple[str, str]]]:
    """Each module's imports within the package, and which edges are function-level."""
    modules = _modules()
    graph: dict[str, set[str]] = {name: set() for name in modules}
    in_functions = set()
    for module, path in modules.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        lazy = _lazy_edges(tree)
        for node in ast.walk(tree):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                for target in _targets(node, module, path.name == "__init__.py", modules):
                    graph[module].add(target)
                    if id(node) in lazy:
                        in_functions.add((module, target))
    return graph, in_functions


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for other in sorted(graph[node]):
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in on_stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_the_graph_is_read() -> None:
    graph, _ = import_graph()
    assert "patchkit.model" in graph["patchkit.audit.report"]
    assert "patchkit._atomic" in graph["patchkit.static.render"]


def test_the_lazy_exemptions_are_function_level_and_still_needed() -> None:
    graph, in_functions = import_graph()
    for edge, reason in LAZY.items():
        assert reason
        assert edge[1] in graph[edge[0]], f"{edge}: no longer imported; drop it from LAZY"
        assert edge in in_functions, f"{edge}: imported at module level, not lazily"


def test_no_import_cycles() -> None:
    graph, _ = import_graph()
    for importer, imported in LAZY:
        graph[importer].discard(imported)
    assert _cycles(graph) == []


# The front doors (ARCHITECTURE.md): each parses its own configuration, drives the session
# and renders; none imports another. (The audit's CLI and its in-process API still share
# the audit/ package with the layers below them: these are their own modules.)
FRONT_DOORS = {
    "the audit CLI": ("patchkit.audit.__main__", "patchkit.audit.runner",
                      "patchkit.audit.stopping"),
    "the in-process API": ("patchkit.audit.api",),
    "the pytest plugin": ("patchkit.pytest_plugin",),
    "the monitor": ("patchkit.monitor",),
}


def _door(module: str) -> str | None:
    for door, prefixes in FRONT_DOORS.items():
        if any(module == p or module.startswith(p + ".") for p in prefixes):
            return door
    return None


def test_no_front_door_imports_another() -> None:
    graph, _ = import_graph()
    crossings = sorted((importer, imported) for importer, targets in graph.items()
                       for imported in targets
                       if _door(importer) and _door(imported)
                       and _door(importer) != _door(imported))
    assert crossings == []
