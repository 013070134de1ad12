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

import linecache
import os
import re
import sys
import types
from dataclasses import dataclass
from typing import Any, Callable, Iterable

__all__ = ["StaleRef", "StaleScan", "is_ignored_module"]

_ENGINE = frozenset({"gevent", "greenlet", "patchkit", "zope", "wrapt", "_pytest", "pytest",
                     "pluggy", "rich", "pip", "setuptools", "_virtualenv", "__editable__"})
_PATCHKIT_DIR = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


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


def _binding_line(file: str | None, name: str, keyword: str | None) -> int | None:
    """Best guess of the line that bound *name* in *file* (the import or assignment)."""
    if not file:
        return None
    word = re.escape(name)
    if keyword:
        pattern = re.compile(rf"^\s*{keyword}\s+{word}\b")
    else:
        pattern = re.compile(rf"(\bimport\b.*\b{word}\b)|(^\s*{word}\s*[:=])")
    for number, text in enumerate(linecache.getlines(file), start=1):
        if pattern.search(text):
            return number
    return None


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
        for name, module in list(modules if modules is not None else sys.modules.items()):
            if not isinstance(module, types.ModuleType) or is_ignored_module(name, module):
                continue
            namespace = getattr(module, "__dict__", None)
            if isinstance(namespace, dict):
                self._scan_namespace(name, getattr(module, "__file__", None), namespace, ids)

    def _scan_namespace(self, module: str, file: str | None, namespace: dict[str, Any],
                        ids: frozenset[int]) -> None:
        for attr, value in list(namespace.items()):
            if id(value) in ids:
                self._add(module, attr, value, "bound", file, None)
            elif type(value) is types.FunctionType:
                for default in (value.__defaults__ or ()) + tuple((value.__kwdefaults__ or {}).values()):
                    if id(default) in ids:
                        self._add(module, attr, default, "default", file, "def")
            elif issubclass(type(value), type) and value.__dict__.get("__module__") == module:
                for base in value.__mro__[1:]:
                    if id(base) in ids:
                        self._add(module, attr, base, "base class", file, "class")
                        break

    def _add(self, module: str, attr: str, value: Any, how: str, file: str | None,
             keyword: str | None) -> None:
        original = self.label(value)
        if original is None or (module, attr) in self.found:
            return
        self.found[(module, attr)] = StaleRef(module, attr, original, how, file,
                                              _binding_line(file, attr, keyword))
