"""Turning one long loop turn and its samples into monitor events (on the monitor's thread)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .events import now_iso

if TYPE_CHECKING:
    from ..audit.frames import Callee, Stack
    from .core import Monitor

__all__ = ["Sample", "segments", "block_event", "lag_event"]


@dataclass(frozen=True, slots=True)
class Sample:
    """The hub thread's stack at ``at``; ``key`` names the greenlet (or hub callback)."""

    at: float
    key: int
    stack: Stack
    callee: Callee | None


def segments(start: float, end: float,
             samples: list[Sample]) -> list[tuple[float, float, Sample | None]]:
    """Split the turn ``[start, end]`` among the greenlets the samples saw, in order.

    Consecutive samples of one greenlet are one segment; a boundary lies halfway between
    the last sample of one and the first of the next, so the segments cover the turn
    exactly. With no sample (a call that held the GIL for the whole turn), the turn is
    one segment with no stack.
    """
    if not samples:
        return [(start, end, None)]
    groups: list[list[Sample]] = []
    for sample in samples:
        if groups and groups[-1][-1].key == sample.key:
            groups[-1].append(sample)
        else:
            groups.append([sample])
    out = []
    for index, group in enumerate(groups):
        seg_start = start if index == 0 else (groups[index - 1][-1].at + group[0].at) / 2
        seg_end = end if index == len(groups) - 1 else (group[-1].at + groups[index + 1][0].at) / 2
        out.append((seg_start, seg_end, _representative(group)))
    return out


def _representative(group: list[Sample]) -> Sample:
    """The sample whose site was seen most (a CPU loop passes through several lines)."""
    counts: dict[tuple[Any, ...], int] = {}
    for sample in group:
        top = sample.stack[-1] if sample.stack else None
        key = (top.file, top.line) if top else ()
        counts[key] = counts.get(key, 0) + 1
    best = max(counts, key=lambda k: counts[k])
    return next(s for s in group if ((s.stack[-1].file, s.stack[-1].line) if s.stack else ())
                == best)


def _frame(frame: Any) -> dict[str, Any]:
    return {"file": frame.file, "line": frame.line, "function": frame.function}


def block_event(monitor: Monitor, start: float, end: float,
                sample: Sample | None) -> dict[str, Any]:
    """A ``block`` event: the real duration, the call site, its stack and package."""
    from ..audit.findings import find_site

    event: dict[str, Any] = {"event": "block", "time": now_iso(), "pid": os.getpid(),
                             "duration_s": round(end - start, 6)}
    if sample is None or not sample.stack:
        event.update(file=None, line=None, function=None, stack=[], package=None,
                     callee=None, detail="no Python frame ran while it lasted (a C function run as a "
                     "greenlet, or a call that held the GIL)")
        return event
    site = find_site(sample.stack, monitor._attribution)
    frame = site.frame or sample.stack[-1]
    callee = sample.callee
    event.update(_frame(frame), stack=[_frame(f) for f in reversed(sample.stack)],
                 package=site.package, callee=callee.name if callee is not None else None,
                 cpu=callee is None)
    return event


def lag_event(start: float, end: float, greenlets: int) -> dict[str, Any]:
    """A ``lag`` event: one loop turn ran several greenlets' blocks back to back."""
    return {"event": "lag", "time": now_iso(), "pid": os.getpid(),
            "duration_s": round(end - start, 6), "greenlets": greenlets}
