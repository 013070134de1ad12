"""Run a callback when a module is first imported, importing wrapt only when that happens.

wrapt's post-import hooks are the mechanism, but importing wrapt costs ~25 ms and
imports ``ssl`` and ``asyncio``; most programs never import the libraries that library
patchers wait for. So a one-line watch sits on ``sys.meta_path`` and, on the first
import of a watched module, imports wrapt, registers the hooks with it, and hands that
import to wrapt's own finder so the hooks fire once the module is loaded.
"""

from __future__ import annotations

import sys
import threading
from importlib.machinery import ModuleSpec
from types import ModuleType
from typing import Any, Callable, Sequence

__all__ = ["when_imported"]

Hook = Callable[[ModuleType], None]


class _Watch:
    """A meta-path finder that finds nothing itself; it only notices watched names."""

    def __init__(self) -> None:
        self.hooks: dict[str, list[Hook]] = {}
        self.lock = threading.Lock()

    def find_spec(self, fullname: str, path: Sequence[str] | None = None,
                  target: ModuleType | None = None) -> ModuleSpec | None:
        with self.lock:
            hooks = self.hooks.pop(fullname, None)
            if hooks is None:
                return None
            if not self.hooks:
                _remove(self)
        _register_with_wrapt(fullname, hooks)
        finder: Any = _wrapt_finder()
        return finder.find_spec(fullname, path, target) if finder is not None else None


_watch = _Watch()


def _remove(watch: _Watch) -> None:
    try:
        sys.meta_path.remove(watch)
    except ValueError:
        pass


def _register_with_wrapt(name: str, hooks: list[Hook]) -> None:
    import wrapt

    for hook in hooks:
        wrapt.register_post_import_hook(hook, name)


def _wrapt_finder() -> object | None:
    from wrapt.importer import ImportHookFinder

    return next((f for f in sys.meta_path if isinstance(f, ImportHookFinder)), None)


def when_imported(name: str, hook: Hook) -> None:
    """Call ``hook(module)`` once *name* is imported (at once if it already is)."""
    module = sys.modules.get(name)
    if module is not None or "wrapt" in sys.modules:
        if module is not None:
            hook(module)
        else:
            _register_with_wrapt(name, [hook])
        return
    with _watch.lock:
        _watch.hooks.setdefault(name, []).append(hook)
        if _watch not in sys.meta_path:
            sys.meta_path.insert(0, _watch)
