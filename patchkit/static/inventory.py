"""Which shared objects to scan, grouped by the distribution (or package) that ships them.

Distributions are found with ``importlib.metadata``; their shared objects come from
their ``RECORD`` (wheels list every file, bundled ``<dist>.libs/`` copies included). A
pure-Python distribution costs one read of ``RECORD`` and a substring test: its metadata
is never parsed. A folder without distribution metadata is walked, and its shared
objects grouped by top-level directory.
"""

from __future__ import annotations

import csv
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Iterator

__all__ = ["Unit", "Inventory", "ScanPathError", "inventory", "is_shared_object"]

_SHARED = re.compile(r"\.so(\.\d+)*$")
_SKIP_DIRS = {"__pycache__", ".git", ".hg", ".tox", "node_modules"}


class ScanPathError(ValueError):
    """A path given to scan does not exist or cannot be read."""


def is_shared_object(name: str) -> bool:
    """Whether a file name looks like an ELF shared object (``x.so``, ``libpq-ab12.so.5.17``)."""
    return _SHARED.search(name.rsplit("/", 1)[-1]) is not None


@dataclass
class Unit:
    """Shared objects that belong together: one distribution, or one top-level folder.

    Attributes:
        distribution: Its distribution name (None for a folder without metadata).
        version: Its version, when known.
        location: The folder paths in ``files`` are relative to.
        files: Shared objects, relative to ``location`` (POSIX separators).
    """

    distribution: str | None
    version: str | None
    location: Path
    files: list[str] = field(default_factory=list)

    @property
    def enclosing(self) -> list[str]:
        """Names of the folders around ``location``, nearest first (a bare file's package)."""
        return [part for part in reversed(self.location.parts[-4:]) if part.isidentifier()]

    @property
    def packages(self) -> list[str]:
        """Top-level import names of its files (``<dist>.libs`` folders left out)."""
        tops = []
        for path in self.files:
            top = path.split("/", 1)[0] if "/" in path else path.split(".", 1)[0]
            if not top.endswith(".libs") and top not in tops:
                tops.append(top)
        return tops


@dataclass
class Inventory:
    """What was found to scan: units with shared objects, and how many units in all."""

    roots: list[str]
    units: list[Unit]
    considered: int


def _record_entries(dist: Any) -> list[str]:
    text = dist.read_text("RECORD")
    if text is None:
        files = dist.files or []
        return [str(f) for f in files if is_shared_object(str(f))]
    if ".so" not in text:
        return []
    entries = []
    for line in text.splitlines():
        # RECORD is CSV; only a path containing a comma is quoted.
        path = next(csv.reader([line]))[0] if line.startswith('"') else line.split(",", 1)[0]
        if is_shared_object(path):
            entries.append(path)
    return entries


def _distribution_units(dists: Iterable[Any]) -> tuple[list[Unit], int]:
    units: dict[str, Unit] = {}
    seen: set[str] = set()
    for dist in dists:
        folder = str(getattr(dist, "_path", id(dist)))
        if folder in seen:
            continue
        seen.add(folder)
        entries = _record_entries(dist)
        if not entries:
            continue
        name = dist.metadata["Name"] or Path(folder).name.split("-", 1)[0]
        key = re.sub(r"[-_.]+", "-", name).lower()
        if key in units:  # shadowed by an earlier entry of sys.path, as for imports
            continue
        location = Path(dist.locate_file(""))
        files = [Path(os.path.normpath(location / e)).relative_to(location).as_posix()
                 for e in entries if not os.path.isabs(e) and not e.startswith("..")]
        units[key] = Unit(name, dist.version, location, files)
    return list(units.values()), len(seen)


def _site_dirs(folder: Path) -> list[Path]:
    """Folders holding distribution metadata: *folder* itself, or site-packages inside it."""
    if any(folder.glob("*.dist-info")) or any(folder.glob("*.egg-info")):
        return [folder]
    found = []
    for pattern in ("lib/python*/site-packages", "lib/python*/dist-packages",
                    "lib64/python*/site-packages", "Lib/site-packages"):
        found.extend(sorted(folder.glob(pattern)))
    return found


def _walk_units(folder: Path) -> Iterator[Unit]:
    groups: dict[str, Unit] = {}
    for directory, dirnames, filenames in os.walk(folder):
        dirnames[:] = sorted(d for d in dirnames if d not in _SKIP_DIRS and not d.startswith("."))
        for filename in sorted(filenames):
            if is_shared_object(filename):
                relative = (Path(directory) / filename).relative_to(folder).as_posix()
                top = relative.split("/", 1)[0] if "/" in relative else filename.split(".")[0]
                groups.setdefault(top, Unit(None, None, folder)).files.append(relative)
    yield from groups.values()


def _has_elf_magic(path: Path) -> bool:
    try:
        with open(path, "rb") as stream:
            return stream.read(4) == b"\x7fELF"
    except OSError as exc:
        raise ScanPathError(f"{path}: {exc.strerror or exc}") from None


def _path_units(path: Path) -> tuple[list[Unit], int]:
    from importlib.metadata import distributions

    if not path.exists():
        raise ScanPathError(f"{path}: no such file or directory")
    if not (path.is_file() or path.is_dir()):
        raise ScanPathError(f"{path}: not a file or folder (a FIFO, device or socket)")
    if path.is_file():
        if not _has_elf_magic(path):
            raise ScanPathError(f"{path}: not an ELF shared object")
        return [Unit(None, None, path.parent, [path.name])], 1
    if not os.access(path, os.R_OK | os.X_OK):
        raise ScanPathError(f"{path}: permission denied")
    sites = _site_dirs(path)
    if sites:
        return _distribution_units(distributions(path=[str(s) for s in sites]))
    units = list(_walk_units(path))
    return units, len(units)


def inventory(paths: list[str] | None = None) -> Inventory:
    """Find the shared objects to scan.

    Args:
        paths: Files or folders (a site-packages, a virtualenv, any folder); None scans
            the distributions importable here (``sys.path``).

    Raises:
        ScanPathError: a path does not exist or cannot be read.
    """
    import sys
    from importlib.metadata import distributions

    if paths is None:
        units, considered = _distribution_units(distributions())
        roots = [p for p in sys.path if p and os.path.isdir(p)]
        return Inventory(roots, units, considered)
    all_units: list[Unit] = []
    considered = 0
    for raw in paths:
        units, count = _path_units(Path(raw).expanduser().absolute())
        all_units += units
        considered += count
    return Inventory([str(Path(p).expanduser().absolute()) for p in paths], all_units, considered)
