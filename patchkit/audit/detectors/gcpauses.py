"""Garbage-collection pauses, so they are not reported as a line's hub block.

A collection holds the GIL like a slow C call: nothing else runs, the sampler cannot
look, and when it ends the stack has moved on -- so a 30 ms gen-2 collection used to be
reported as a GIL-holding call at whatever line happened to allocate. Collections are
timed through ``gc.callbacks`` -- for as long as the collecting thread computed, so a
collection whose finalizer let other threads run does not swallow their blocks -- and
their time is taken out of any block they overlap.

An explicit ``gc.collect()`` is the program's own call and stays a block at its line:
``gc.collect`` is wrapped while the detector runs so those collections are not recorded.
"""

from __future__ import annotations

import gc
import time
from typing import Any

__all__ = ["GcPauses"]

_KEEP = 4096
_SLACK = 0.001  # thread CPU clocks tick coarser than perf_counter


class GcPauses:
    """Records ``(start, end)`` perf_counter intervals of garbage collections."""

    def __init__(self) -> None:
        self.intervals: list[tuple[float, float]] = []
        self._started: float | None = None
        self._cpu = 0.0
        self._explicit = 0
        self._collect: Any = None

    def start(self) -> None:
        if self._on_gc not in gc.callbacks:
            gc.callbacks.append(self._on_gc)
        if self._collect is None:
            self._collect = gc.collect
            gc.collect = self._explicit_collect

    def stop(self) -> None:
        if self._on_gc in gc.callbacks:
            gc.callbacks.remove(self._on_gc)
        if self._collect is not None and gc.collect == self._explicit_collect:
            gc.collect = self._collect
        self._collect = None

    def _explicit_collect(self, *args: Any, **kwargs: Any) -> int:
        self._explicit += 1
        try:
            return int(self._collect(*args, **kwargs))
        finally:
            self._explicit -= 1

    def _on_gc(self, phase: str, info: dict[str, Any]) -> None:
        if self._explicit:
            return
        now, cpu = time.perf_counter(), time.thread_time()
        if phase == "start":
            self._started, self._cpu = now, cpu
        elif self._started is not None:
            # Counted as long as the collecting thread computed: a finalizer that
            # releases the GIL (closing a file) lets other threads run meanwhile -- on
            # another thread, a collection can span a whole hub block it did not cause.
            self.intervals.append((self._started, min(now, self._started + cpu - self._cpu
                                                      + _SLACK)))
            self._started = None
            if len(self.intervals) > _KEEP:
                del self.intervals[:_KEEP // 2]

    def within(self, start: float, end: float) -> float:
        """Seconds of collection inside ``[start, end]``."""
        return sum(max(0.0, min(end, g_end) - max(start, g_start))
                   for g_start, g_end in self.intervals if g_end > start and g_start < end)
