"""Garbage collection seen in hub blocks, reported as what it is: computation.

Shared by the audit and the pytest plugin: a block spent mostly inside an explicit
``gc.collect()`` computed (the collector walks every object; finalizers may run), and
the collector's own frames -- patchkit's ``gc.collect`` wrapper and its ``gc.callbacks``
callback (``detectors.gcpauses``) -- are never a block's callee.
"""

from __future__ import annotations

from typing import Any, Collection

from .detectors.gcpauses import EXPLICIT_COLLECT, own_frames
from .findings import WAITED
from .frames import Callee

__all__ = ["EXPLICIT_GC", "collections_as_computation"]

EXPLICIT_GC = "an explicit gc.collect() (garbage collection is computation, not a wait)"
"""The detail of a block that was mostly an explicit ``gc.collect()``."""

_GC_COLLECT = Callee("gc.collect", "gc")


def collections_as_computation(observations: list[Any], blocks: list[Any], gc: Any,
                               read: Collection[float]) -> None:
    """Rewrite, in place, the blocking observations that garbage collection explains.

    A block spent mostly inside an explicit ``gc.collect()`` computed whatever its
    readings say, and is sited where ``gc.collect()`` was called (the sampler cannot look
    while it runs). The collector's own frames on a sampled stack are cut off, so the
    reported callee is ``gc.collect`` or nothing (an allocation that started a
    collection), never patchkit's code.

    Args:
        observations: Observations of *blocks* (and others, left alone).
        blocks: The timed blocks (``RawBlock``) the observations came from.
        gc: The session's ``GcPauses``.
        read: Starts of the blocks that have a CPU-time reading of their own.
    """
    ends = {b.start: b.end for b in blocks}
    for obs in observations:
        if obs.kind != "blocking":
            continue
        start = obs.started if obs.started is not None else obs.stretch
        index = own_frames(obs.stack)
        if index is not None:
            explicit = obs.stack[index].function == EXPLICIT_COLLECT.co_qualname
            obs.stack, obs.callee = obs.stack[:index], _GC_COLLECT if explicit else None
            if not explicit and start not in read:
                obs.cpu = True  # sampled running a collection's callback
            elif not (explicit or obs.cpu or obs.detail):
                obs.detail = WAITED  # its readings said so; the callback was not the cause
        end = ends.get(start)
        if end is None:
            continue
        collected, caller = gc.explicit_within(start, end)
        if collected >= 0.5 * (end - start):
            obs.cpu, obs.callee, obs.detail = True, _GC_COLLECT, EXPLICIT_GC
            obs.stack, obs.site = caller or obs.stack, None  # at the gc.collect() call
