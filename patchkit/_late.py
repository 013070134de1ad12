"""Fast checks that patching came late: off the main thread, after threads started, or after
modules captured originals (``from time import sleep`` before ``patch_all()``).

This is the cheap check patching runs every time; the auditor's stale-reference
detector does the thorough one.
"""

from __future__ import annotations

import os
import sys
import warnings
from typing import Any, Iterable

from ._errors import LatePatchWarning
from .ledger import MISSING, Swap

__all__ = ["other_threads", "threads_problem", "stale_references", "warn"]

# Modules that legitimately keep originals: the stdlib's own internals (functools.RLock,
# reprlib.get_ident, ...) and the machinery doing the patching.
_IGNORED_PACKAGES = frozenset({"gevent", "greenlet", "patchkit", "zope", "_pytest", "pytest",
                               "pluggy", "wrapt", "rich", "pip", "setuptools", "_virtualenv",
                               "execnet", "xdist"})
_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__))


def other_threads() -> list[str]:
    """Names of the threads (``threading``'s) running besides the caller and the main one."""
    import _thread
    import threading

    main = threading.main_thread()
    return [t.name for t in threading.enumerate()
            if t.ident != _thread.get_ident() and t is not main]


def threads_problem() -> str | None:
    """Describe why patching now is unsafe for threads, or ``None``. Call before patching."""
    import _thread
    import threading

    problems = []
    main = threading.main_thread()
    if _thread.get_ident() != main.ident:
        problems.append(f"it runs off the main thread (in {threading.current_thread().name!r}),"
                        " so threading.main_thread().join() will hang from a greenlet")
    others = other_threads()
    if others:
        problems.append(f"{len(others)} other thread(s) already run as native threads and "
                        f"stay native: {', '.join(sorted(others)[:8])}")
    if not problems:
        return None
    return ("patching late: " + "; ".join(problems)
            + ". Call patchkit.patch_all() on the program's first line, before any thread starts.")


def _ignored(module_name: str, extra: frozenset[str]) -> bool:
    top = module_name.partition(".")[0]
    return top in sys.stdlib_module_names or top in _IGNORED_PACKAGES or top in extra


def _own(top: str, swap: Swap) -> bool:
    """Whether a module of package *top* holding *swap*'s original is that library itself.

    A library patcher (``zmq``) swaps a library's own classes; the library's modules
    define and subclass them on purpose (``zmq.green`` subclasses ``zmq.Context``).
    """
    return swap.module.partition(".")[0] == top


def stale_references(swaps: Iterable[Swap],
                     ignore: frozenset[str] = frozenset()) -> dict[str, list[str]]:
    """Map each non-stdlib module to the originals it still holds, e.g. ``{"app.util":
    ["sleep = time.sleep"]}``, including classes that subclass a replaced original.

    Args:
        swaps: The swaps just made; only callable originals are looked for.
        ignore: Extra top-level package names to leave out.
    """
    originals: dict[int, Swap] = {
        id(s.original): s for s in swaps if s.original is not MISSING and callable(s.original)}
    found: dict[str, list[str]] = {}
    if not originals:
        return found
    for name, module in list(sys.modules.items()):
        if module is None or _ignored(name, ignore):
            continue
        try:
            namespace: dict[str, Any] = vars(module)
        except TypeError:
            continue
        top = name.partition(".")[0]
        for attr, value in list(namespace.items()):
            hit = originals.get(id(value))
            if hit is not None and _own(top, hit):
                continue
            if hit is not None and hit.original is value:
                found.setdefault(name, []).append(f"{attr} = {hit.module}.{hit.attribute}")
            elif isinstance(value, type):
                base = next((b for b in value.__mro__[1:] if id(b) in originals
                             and not _own(top, originals[id(b)])), None)
                if base is not None:
                    swap = originals[id(base)]
                    found.setdefault(name, []).append(
                        f"{attr} subclasses {swap.module}.{swap.attribute}")
    return found


def describe_stale(found: dict[str, list[str]]) -> str:
    listed = "; ".join(f"{mod} ({', '.join(refs)})" for mod, refs in sorted(found.items()))
    return ("patching late: these modules were imported before patching and still hold the "
            f"blocking originals: {listed}. Import them after patchkit.patch_all() (put it on the "
            "program's first line), or use the module attribute (time.sleep) instead of a "
            "name imported from it. `python -m patchkit.audit` shows where they are called.")


def _caller_stacklevel() -> int:
    """The stacklevel that points a warning at the first frame outside patchkit."""
    frame = sys._getframe(1)
    level = 1
    while frame is not None and os.path.dirname(
            os.path.abspath(frame.f_code.co_filename)).startswith(_PACKAGE_DIR):
        frame = frame.f_back  # type: ignore[assignment]
        level += 1
    return level


def warn(message: str, category: type[Warning] = LatePatchWarning) -> None:
    warnings.warn(message, category, stacklevel=_caller_stacklevel())
