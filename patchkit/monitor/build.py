"""Turning one long loop turn and its samples into monitor events (on the monitor's thread)."""

from __future__ import annotations

import os
import time
from typing import TYPE_CHECKING, Any

from ..audit.detectors.sampler import Sample
from ..audit.detectors.turns import segments
from .events import now_iso

if TYPE_CHECKING:
    from ..audit.detectors.imports import Attribution

__all__ = ["Sample", "segments", "block_event", "lag_event"]

# One turn's samples and how a turn is split among greenlets are the audit's (its loop-turn
# clock, ``audit.detectors.turns``): the monitor is that core with events for sinks.


def _frame(frame: Any) -> dict[str, Any]:
    return {"file": frame.file, "line": frame.line, "function": frame.function}


def block_event(attribution: Attribution, start: float, end: float, sample: Sample | None,
                group: list[Sample] | None = None) -> dict[str, Any]:
    """A ``block`` event: the real duration, the call site, its stack and package.

    *attribution* names the package of the call site (the monitor's post-import one).
    *group* is every sample of the segment: the callee is the one seen in most of them
    (a CPU loop is caught inside ``time.perf_counter()`` now and then).
    """
    from ..audit.detectors.sampler import dominant_callee
    from ..audit.sites import find_site

    event: dict[str, Any] = {"event": "block", "time": now_iso(), "pid": os.getpid(),
                             "duration_s": round(end - start, 6), "started": _epoch(start)}
    if sample is None or not sample.stack:
        event.update(file=None, line=None, function=None, stack=[], package=None,
                     callee=None, detail="no Python frame ran while it lasted (a C function run as a "
                     "greenlet, or a call that held the GIL)")
        return event
    site = find_site(sample.stack, attribution)
    frame = site.frame or sample.stack[-1]
    callee = dominant_callee([s.callee for s in group]) if group else sample.callee
    event.update(_frame(frame), stack=[_frame(f) for f in reversed(sample.stack)],
                 package=site.package, callee=callee.name if callee is not None else None,
                 cpu=callee is None)
    return event


def lag_event(start: float, end: float, greenlets: int) -> dict[str, Any]:
    """A ``lag`` event: one loop turn ran several greenlets' blocks back to back."""
    return {"event": "lag", "time": now_iso(), "pid": os.getpid(),
            "duration_s": round(end - start, 6), "started": _epoch(start),
            "greenlets": greenlets}


def _epoch(moment: float) -> float:
    """A perf_counter moment as seconds since the epoch."""
    return round(time.time() - (time.perf_counter() - moment), 6)
