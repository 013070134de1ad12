"""Observations that come from the program's state rather than from one moment:
stale references, imports that came before patching, and never patching at all.
"""

from __future__ import annotations

import os

from dataclasses import dataclass

from .detectors import Observation
from .detectors.events import ImportRecord
from .detectors.imports import Attribution
from .detectors.stale import StaleRef
from .frames import FrameInfo

__all__ = ["stale_observations", "late_patch_observations", "unpatched_observation",
           "EarlyImport", "early_import"]


def stale_observations(refs: list[StaleRef]) -> list[Observation]:
    """One observation per stale binding, filed at the line that bound it."""
    out = []
    for ref in refs:
        site = FrameInfo(ref.file, ref.line or 0, "<module>", ref.module) if ref.file else None
        out.append(Observation("stale-reference", module=ref.module, name=ref.name,
                               original=ref.original, detail=ref.how, site=site))
    return out


def _record_for(module: str, records: dict[str, ImportRecord]) -> ImportRecord | None:
    parts = module.split(".")
    for end in range(len(parts), 0, -1):
        record = records.get(".".join(parts[:end]))
        if record is not None:
            return record
    return None


def _app_frame(record: ImportRecord, attribution: Attribution) -> FrameInfo | None:
    """The innermost frame of the program's own code in the import's stack, if any."""
    for frame in reversed(record.stack):
        if attribution.classify(frame)[0] == "app":
            return frame
    return None


@dataclass(frozen=True, slots=True)
class EarlyImport:
    """Why a module holding an original was imported before patching finished.

    Attributes:
        why: A sentence naming who imported it (the import chain, or gevent's lock scan
            touching a lazy object).
        fix: What to change, given that cause.
    """

    why: str
    fix: str


def _chain(stack: tuple[FrameInfo, ...]) -> list[str]:
    """The modules whose top-level code imported the next, outermost first."""
    names = [f.module for f in stack if f.function == "<module>" and f.module]
    return list(dict.fromkeys(n for n in names if n != "__main__"))


def early_import(module: str, imports: list[ImportRecord],
                 attribution: Attribution) -> EarlyImport | None:
    """Why *module* (a module the program does not import itself) was imported early.

    None when the program's own code imported it (then "import it after patch_all()"
    is the fix) or when nothing was recorded.
    """
    record = _record_for(module, {r.name: r for r in imports})
    if record is None or not record.stack:
        return None
    if attribution.classify(record.stack[-1])[0] == "app":
        return None  # the program's own import statement
    chain = " -> ".join([*_chain(record.stack), module])
    scans = [i for i, f in enumerate(record.stack)
             if (f.module or "").startswith("gevent.monkey") and "lock" in f.function]
    scan = scans[-1] if scans else None
    if scan is not None:
        return _from_lock_scan(module, record.stack, scan, chain)
    first = _app_frame(record, attribution)
    where = f" (the import at {first.file}:{first.line})" if first is not None else ""
    return EarlyImport(
        f"{module} is not imported by your code: it was imported before patching "
        f"through {chain}",
        f"patch before that chain starts{where}: patchkit.patch_all() on the program's "
        "first line, or start it with `python -m patchkit` (`--patch` under the audit)")


def _from_lock_scan(module: str, stack: tuple[FrameInfo, ...], scan: int,
                    chain: str) -> EarlyImport:
    lazy = next((f for f in stack[scan + 1:]
                 if not (f.module or "").startswith(("gevent", "patchkit"))), None)
    touched = f"{lazy.module}.{lazy.function}" if lazy is not None and lazy.module else \
        "an object"
    owner = (lazy.module or "").partition(".")[0] if lazy is not None else ""
    return EarlyImport(
        f"{module} was imported while gevent patched, before time was: gevent's lock "
        f"scan ({stack[scan].function} in patch_thread) touched {touched}, a lazy "
        f"object created before patching, which imported {chain}",
        f"patch before {owner or 'that package'} is imported, so gevent's lock scan "
        "finds none of its lazy objects: start the program with `python -m patchkit` "
        "(`--patch` under the audit), or call patchkit.patch_all() on its first line")


def late_patch_observations(imports: list[ImportRecord], refs: list[StaleRef],
                            attribution: Attribution) -> list[Observation]:
    """One observation per import statement that ran before patching and brought in
    modules holding originals (or ``ssl``, which gevent warns about).

    The site is the program's own import line; ``module`` is what that line imported.
    """
    records = {r.name: r for r in imports}
    direct: dict[FrameInfo, str] = {}
    for record in imports:
        if record.stack:
            direct.setdefault(record.stack[-1], record.name)
    held: dict[FrameInfo, list[str]] = {}
    for ref in refs:
        found = _record_for(ref.module, records) if ref.module != "__main__" else None
        frame = _app_frame(found, attribution) if found is not None else None
        if frame is not None:
            held.setdefault(frame, []).append(f"{ref.module}.{ref.name} ({ref.original})")
    ssl = records.get("ssl")
    ssl_frame = _app_frame(ssl, attribution) if ssl is not None else None
    if ssl_frame is not None and attribution.classify(ssl_frame)[0] == "app":
        held.setdefault(ssl_frame, []).insert(0, "ssl (imported before its patch)")
    out = []
    for frame, what in held.items():
        module = direct.get(frame, frame.module or "?")
        shown = ", ".join(what[:3]) + (f" and {len(what) - 3} more" if len(what) > 3 else "")
        out.append(Observation("late-patch", site=frame, module=module,
                               detail=f"{module} was imported before patching and kept "
                                      f"originals: {shown}"))
    return out


def unpatched_observation(target: str | None) -> Observation:
    """The finding for a program that never patched, filed at the first line of the file
    python ran, where the fix goes.

    A package's ``__init__.py`` (what ``-m package`` resolves to) is replaced by the
    ``__main__.py`` beside it, which is what ``python -m package`` runs.
    """
    if target and os.path.basename(target) == "__init__.py":
        main = os.path.join(os.path.dirname(target), "__main__.py")
        target = main if os.path.exists(main) else target
    site = FrameInfo(target, 1, "<module>", "__main__") if target else None
    return Observation("unpatched", site=site, detail="never patched")
