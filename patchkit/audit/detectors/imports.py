"""Attribution: whose code a frame is (app, stdlib, engine, or which distribution).

Distributions come from ``importlib.metadata.packages_distributions()`` (top-level
import name -> distribution), computed once, lazily, after the target ran. The
app's own code -- anything that is neither stdlib, nor the patching machinery, nor
installed -- has no package (``None``).

Known C-extension packages that block unless set up for gevent are watched on
``sys.meta_path``: when one is imported, its import time is recorded, so the advice
for a block inside it can name the right fix.
"""

from __future__ import annotations

import functools
import inspect
import os
import sys
import sysconfig
import time
from typing import Any, Literal

from ..frames import FrameInfo

__all__ = ["Origin", "Attribution", "known_packages", "KnownImports"]

Origin = Literal["app", "stdlib", "engine", "third-party"]

ENGINE = frozenset({"gevent", "greenlet", "patchkit", "zope", "wrapt"})

@functools.lru_cache(maxsize=1)
def known_packages() -> dict[str, str]:
    """Import name -> fix for every knowledge-base library that is not cooperative.

    These are the packages whose import is worth noting: a block inside one gets the
    knowledge base's fix (patchkit/knowledge/libraries.toml), the same text the static
    scan and the pytest plugin show.
    """
    from patchkit.knowledge import knowledge_base

    return {name: library.fix for library in knowledge_base().libraries
            if library.behaviour != "cooperative" for name in library.imports}



_PATCHKIT_DIR = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _stdlib_dirs() -> tuple[str, ...]:
    paths = sysconfig.get_paths()
    dirs = {os.path.realpath(paths[key]) for key in ("stdlib", "platstdlib") if key in paths}
    return tuple(d + os.sep for d in dirs)


def _site_dirs() -> tuple[str, ...]:
    paths = sysconfig.get_paths()
    dirs = {os.path.realpath(paths[key]) for key in ("purelib", "platlib") if key in paths}
    dirs.update(os.path.realpath(p) for p in sys.path if "-packages" in p)
    return tuple(d + os.sep for d in dirs)


def _module_from_path(path: str, roots: tuple[str, ...]) -> str | None:
    """The dotted module name of *path* under one of *roots* (``gunicorn.__main__``)."""
    for root in roots:
        if path.startswith(root):
            parts = os.path.splitext(path[len(root):])[0].split(os.sep)
            if all(part.isidentifier() for part in parts):
                return ".".join(parts)
    return None


def _top_level_names(dist: Any, inferred: Any) -> Any:
    """The importable top-level names in *dist*'s RECORD, as importlib's
    ``_top_level_inferred`` gives them, from its paths as strings: importlib makes a path
    object of every line (~1,000 for pip: ~4 ms holding the GIL, against 0.4 ms here).
    Anything unusual (no RECORD, a quoted path) is left to *inferred*."""
    text = dist.read_text("RECORD")
    if not text:
        return inferred(dist)
    names = set()
    for line in text.splitlines():
        path = line.split(",", 1)[0]
        if path.startswith('"'):
            return inferred(dist)
        top, nested, _ = path.partition("/")
        name = top if nested else inspect.getmodulename(top) or top
        if name and "." not in name and name != "__pycache__":
            names.add(name)
    return names


class Attribution:
    """Classifies frames and names their distribution; cached per file."""

    def __init__(self) -> None:
        self._dists: dict[str, list[str]] | None = None
        self._stdlib = _stdlib_dirs()
        self._site = _site_dirs()
        self._cache: dict[tuple[str, str | None], tuple[Origin, str | None]] = {}

    def _distributions(self) -> dict[str, list[str]]:
        if self._dists is None:
            from importlib.metadata import packages_distributions

            try:
                self._dists = dict(packages_distributions())
            except Exception:
                self._dists = {}
        return self._dists

    def load_gradually(self, pause: Any) -> None:
        """Read the installed distributions one at a time, calling *pause()* between them.

        For a thread that must not hold the GIL long (the monitor's): a full
        ``packages_distributions()`` reads every distribution's metadata at once (~150 ms
        in an environment of a few hundred distributions).
        """
        from importlib import metadata

        declared = getattr(metadata, "_top_level_declared", None)
        inferred = getattr(metadata, "_top_level_inferred", None)
        if declared is None or inferred is None:
            self._distributions()
            return
        mapping: dict[str, list[str]] = {}
        try:
            for dist in metadata.distributions():
                for package in declared(dist) or _top_level_names(dist, inferred):
                    mapping.setdefault(package, []).append(dist.metadata["Name"])
                pause()
        except Exception:
            self._distributions()
            return
        self._dists = mapping

    def classify(self, frame: FrameInfo) -> tuple[Origin, str | None]:
        """``(origin, distribution)`` of a frame; distribution only for third-party code."""
        key = (frame.file, frame.module)
        if key not in self._cache:
            self._cache[key] = self._classify(frame.file, frame.module)
        return self._cache[key]

    def _classify(self, file: str, module: str | None) -> tuple[Origin, str | None]:
        path = os.path.realpath(file) if not file.startswith("<") else file
        if module in (None, "__main__") and path.startswith(self._site):
            # `python -m gunicorn` runs gunicorn/__main__.py as "__main__": the
            # distribution is the one whose folder it is in.
            module = _module_from_path(path, self._site) or module
        top = (module or "").partition(".")[0]
        if top in ENGINE or path.startswith(_PATCHKIT_DIR + os.sep) or file.startswith("<frozen runpy"):
            return "engine", None
        if file.startswith("<frozen"):
            return "stdlib", None
        in_site = path.startswith(self._site)
        if not in_site and (path.startswith(self._stdlib) or top in sys.stdlib_module_names
                            and module != "__main__" and file.startswith("<")):
            return "stdlib", None
        dist = self.module_distribution(module) if module else None
        if dist is not None:
            return "third-party", dist
        if in_site:
            return "third-party", top or None
        return "app", None

    def module_distribution(self, module: str | None) -> str | None:
        """The installed distribution providing top-level module of *module*, if any."""
        if not module or module == "__main__":
            return None
        top = module.partition(".")[0]
        if top in ENGINE or top in sys.stdlib_module_names:
            return None
        dists = self._distributions().get(top)
        if not dists:
            return None
        normal = top.lower().replace("_", "-")
        return next((d for d in dists if d.lower().replace("_", "-") == normal), dists[0])


class KnownImports:
    """When each of :func:`known_packages` got imported.

    A meta-path finder that finds nothing notes the first import of each (an import
    only needs noting, not hooking after load: no wrapt, whose own import inside the
    target's import of, say, ctypes would import asyncio and ssl there).
    """

    def __init__(self) -> None:
        self.imported: dict[str, float] = {}
        self.active = False
        self.known: frozenset[str] = frozenset()

    def start(self) -> None:
        """Note the known packages already imported, then watch for the rest."""
        self.known = frozenset(known_packages())
        self.active = True
        now = time.perf_counter()
        for name in self.known:
            if name in sys.modules:
                self.imported.setdefault(name, now)
        if self not in sys.meta_path:
            sys.meta_path.insert(0, self)

    def stop(self) -> None:
        """Stop watching; idempotent."""
        self.active = False
        try:
            sys.meta_path.remove(self)
        except ValueError:
            pass

    def find_spec(self, fullname: str, path: Any = None, target: Any = None) -> None:
        """Meta-path hook: note a known package's import; the import goes on elsewhere."""
        if fullname in self.known and self.active:
            self.imported.setdefault(fullname, time.perf_counter())
        return None

    def names(self) -> frozenset[str]:
        """The known packages imported so far."""
        return frozenset(self.imported)
