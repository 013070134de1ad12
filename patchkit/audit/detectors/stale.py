"""Stale references: modules still holding originals captured before patching.

``from time import sleep`` before ``patch_all()`` leaves ``mod.sleep`` bound to the
original forever; ``class Conn(socket.socket)`` keeps the original as a base;
``def wait(s, sleep=time.sleep)`` keeps it as a default. Each is found by identity
against the originals patching replaced, at patch time and again at exit.

The stdlib's own internals (``functools.RLock``, ``reprlib.get_ident``,
``tempfile._allocate_lock``) and the patching machinery (gevent, greenlet,
patchkit, zope, wrapt) hold originals on purpose and are left out, so the user
sees only their code and their dependencies.
"""

from __future__ import annotations

import ast
import functools
import linecache
import os
import sys
import types
from dataclasses import dataclass
from typing import Any, Callable, Iterable

__all__ = ["StaleRef", "StaleScan", "is_ignored_module"]

_ENGINE = frozenset({"gevent", "greenlet", "patchkit", "zope", "wrapt", "_pytest", "pytest",
                     "pluggy", "rich", "pip", "setuptools", "_virtualenv", "__editable__"})
_PATCHKIT_DIR = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


# Pure-Python originals that block only through the threading module's globals,
# which patching replaced: after patch_all() they are cooperative, so holding them
# is harmless (urllib3 keeps queue.LifoQueue; many libraries subclass threading.Thread).
COOPERATIVE_ORIGINALS = frozenset({"queue.Queue", "queue.LifoQueue", "queue.PriorityQueue",
                                   "threading.Event", "threading.Timer", "threading.Thread"})


@dataclass(frozen=True, slots=True)
class StaleRef:
    """``module.name`` holds ``original`` (``how`` is "bound", "default" or "base class")."""

    module: str
    name: str
    original: str
    how: str
    file: str | None
    line: int | None


def is_ignored_module(name: str, module: Any) -> bool:
    """Whether *module* is stdlib or patching machinery, whose originals are deliberate."""
    top = name.partition(".")[0]
    if top in sys.stdlib_module_names or top in _ENGINE:
        return True
    file = getattr(module, "__file__", None)
    return isinstance(file, str) and os.path.abspath(file).startswith(_PATCHKIT_DIR + os.sep)


@functools.lru_cache(maxsize=256)
def _module_bindings(file: str) -> dict[str, int]:
    """Top-level name -> line of the statement that first binds it (imports, assignments,
    defs, classes), from the module's source."""
    try:
        tree = ast.parse("".join(linecache.getlines(file)))
    except (SyntaxError, ValueError):
        return {}
    bindings: dict[str, int] = {}
    for node in ast.walk(tree):
        if not isinstance(node, ast.stmt):
            continue
        names: list[str] = []
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            names = [(a.asname or a.name).partition(".")[0] for a in node.names]
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names = [node.name]
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names = [t.id for t in targets if isinstance(t, ast.Name)]
        for name in names:
            bindings.setdefault(name, node.lineno)
    return bindings


def _binding_line(file: str | None, name: str) -> int | None:
    """The line that bound *name* in *file*: the import, assignment, def or class."""
    return _module_bindings(file).get(name) if file else None


class StaleScan:
    """Scans modules for originals; results accumulate across scans (patch time, exit).

    Args:
        label: Returns ``"time.sleep"`` for a replaced original, None otherwise.
        original_ids: Returns the ids of replaced originals (a fast pre-filter).
    """

    def __init__(self, label: Callable[[Any], str | None],
                 original_ids: Callable[[], frozenset[int]]) -> None:
        self.label = label
        self.original_ids = original_ids
        self.found: dict[tuple[str, str], StaleRef] = {}

    def scan(self, modules: Iterable[tuple[str, Any]] | None = None) -> None:
        """Scan *modules* (default: a snapshot of ``sys.modules``)."""
        ids = self.original_ids()
        if not ids:
            return
        seen: set[int] = set()
        for key, module in list(modules if modules is not None else sys.modules.items()):
            # One module can sit under several keys (requests.packages.urllib3 is urllib3).
            if not isinstance(module, types.ModuleType) or id(module) in seen:
                continue
            seen.add(id(module))
            name = module.__dict__.get("__name__", key)
            if not isinstance(name, str) or is_ignored_module(name, module):
                continue
            namespace = getattr(module, "__dict__", None)
            if isinstance(namespace, dict):
                self._scan_namespace(name, getattr(module, "__file__", None), namespace, ids)

    def _scan_namespace(self, module: str, file: str | None, namespace: dict[str, Any],
                        ids: frozenset[int]) -> None:
        for attr, value in list(namespace.items()):
            if id(value) in ids:
                self._add(module, attr, value, "bound", file)
            elif type(value) is types.FunctionType:
                for default in (value.__defaults__ or ()) + tuple((value.__kwdefaults__ or {}).values()):
                    if id(default) in ids:
                        self._add(module, attr, default, "default", file)
            elif issubclass(type(value), type) and value.__dict__.get("__module__") == module:
                for base in value.__mro__[1:]:
                    if id(base) in ids:
                        self._add(module, attr, base, "base class", file)
                        break

    def _add(self, module: str, attr: str, value: Any, how: str, file: str | None) -> None:
        original = self.label(value)
        if original is None or original in COOPERATIVE_ORIGINALS or (module, attr) in self.found:
            return
        if original.partition(".")[0] == module.partition(".")[0]:
            return  # a library patcher swapped the library's own class (zmq.green subclasses it)
        self.found[(module, attr)] = StaleRef(module, attr, original, how, file,
                                              _binding_line(file, attr))
