"""Observations that come from the program's state rather than from one moment:
stale references, imports that came before patching, and never patching at all.
"""

from __future__ import annotations

from .detectors import Observation
from .detectors.events import ImportRecord
from .detectors.imports import Attribution
from .detectors.stale import StaleRef
from .frames import FrameInfo

__all__ = ["stale_observations", "late_patch_observations", "unpatched_observation"]


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
    for frame in reversed(record.stack):
        if attribution.classify(frame)[0] == "app":
            return frame
    return record.stack[-1] if record.stack else None


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
    """The finding for a program that never patched, filed under its file when known."""
    site = FrameInfo(target, 0, "<module>", "__main__") if target else None
    return Observation("unpatched", site=site, detail="never patched")
