"""Turning one long loop turn and its samples into monitor events (on the monitor's thread)."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .events import now_iso

if TYPE_CHECKING:
    from ..audit.frames import Callee, Stack
    from .core import Monitor

__all__ = ["Sample", "segments", "block_event", "lag_event"]


@dataclass(frozen=True, slots=True)
class Sample:
    """The hub thread's stack at ``at``; ``owner`` is the greenlet's bottom frame (or the
    hub callback's function): held until the turn is reported, so a finished greenlet's
    frame cannot be freed and its address reused by the next greenlet's."""

    at: float
    owner: object
    stack: Stack
    callee: Callee | None
    busy: bool = False
    in_loop: bool = False  # the hub in its own loop, between callbacks (the GIL free)


Segment = tuple[float, float, "Sample | None", "list[Sample]"]


def segments(start: float, end: float, samples: list[Sample],
             period: float = 0.002) -> list[Segment]:
    """Split the turn ``[start, end]`` among the greenlets the samples saw, in order.

    Consecutive samples of one greenlet are one segment, and the segments cover the turn
    exactly. A boundary lies halfway between the last sample of one and the first of the
    next -- except next to CPU work: a greenlet holding the GIL delays the sample after it
    starts (the sampler waits for the GIL), so when only the later one computed, it began
    soon after the earlier one's last sample, and when only the earlier one computed, it
    ran until shortly before the later one's first. With no sample (a call that held the
    GIL for the whole turn), the turn is one segment with no stack.

    A sample of the hub in its own loop is no greenlet's: the greenlet before it had
    ended by then, and one that computed ended just before it (the loop runs without
    the GIL, so a sampler waiting for it gets it at once).
    """
    if not samples:
        return [(start, end, None, [])]
    groups: list[list[Sample]] = []
    seen_loop: list[float | None] = []  # per group: when the hub was next seen in its loop
    for sample in samples:
        if sample.in_loop:
            if groups and seen_loop[-1] is None:
                seen_loop[-1] = sample.at
        elif groups and groups[-1][-1].owner is sample.owner:
            groups[-1].append(sample)
            seen_loop[-1] = None  # it ran again after the loop: a switch out and back
        else:
            groups.append([sample])
            seen_loop.append(None)
    if not groups:  # only the hub's loop was seen: one segment, with what it saw
        groups, seen_loop = [list(samples)], [None]
    cuts = [_boundary(a[-1], b[0], period, loop)
            for a, b, loop in zip(groups, groups[1:], seen_loop)]
    edges = [start, *cuts, end]
    return [(edges[i], edges[i + 1], _representative(group), group)
            for i, group in enumerate(groups)]


def _boundary(last: Sample, first: Sample, period: float, loop: float | None) -> float:
    if loop is not None:
        return loop if last.busy else min((last.at + loop) / 2, first.at)
    middle = (last.at + first.at) / 2
    if first.busy and not last.busy:
        return min(middle, last.at + period / 2)
    if last.busy and not first.busy:
        return max(middle, first.at - period / 2)
    return middle


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


def block_event(monitor: Monitor, start: float, end: float, sample: Sample | None,
                group: list[Sample] | None = None) -> dict[str, Any]:
    """A ``block`` event: the real duration, the call site, its stack and package.

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
    site = find_site(sample.stack, monitor._attribution)
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
