"""Garbage-collection pauses, so they are not reported as a line's hub block.

A collection holds the GIL like a slow C call: nothing else runs, the sampler cannot
look, and when it ends the stack has moved on -- so a 30 ms gen-2 collection used to be
reported as a GIL-holding call at whatever line happened to allocate. Collections are
timed through ``gc.callbacks`` -- for as long as the collecting thread computed, so a
collection whose finalizer let other threads run does not swallow their blocks -- and
their time is taken out of any block they overlap.

An explicit ``gc.collect()`` is the program's own call and stays a block at its line:
``gc.collect`` is wrapped while the detector runs so those collections are not taken out
of blocks; they are recorded apart (:attr:`GcPauses.explicit`) so a block that was one
can be told as what it is -- the program computing, not waiting. The wrapper and the
callback are this module's frames on a sampled stack: :func:`own_frames` finds them,
so neither is named as what the program called.
"""

from __future__ import annotations

import gc
import sys
import time
from typing import Any

from ..frames import Stack, capture_stack

__all__ = ["GcPauses", "own_frames", "EXPLICIT_COLLECT"]

_KEEP = 4096
_SLACK = 0.001  # thread CPU clocks tick coarser than perf_counter


class GcPauses:
    """Records ``(start, end)`` perf_counter intervals of garbage collections."""

    def __init__(self) -> None:
        self.intervals: list[tuple[float, float]] = []
        # (start, end, caller's stack) of each explicit gc.collect() call, finalizers
        # included.
        self.explicit: list[tuple[float, float, Stack]] = []
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
        started = time.perf_counter()
        try:
            return int(self._collect(*args, **kwargs))
        finally:
            self._explicit -= 1
            if not self._explicit:
                caller = capture_stack(sys._getframe(1))
                self.explicit.append((started, time.perf_counter(), caller))
                if len(self.explicit) > _KEEP:
                    del self.explicit[:_KEEP // 2]

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
        """Seconds of (automatic) collection inside ``[start, end]``."""
        return _overlap(self.intervals, start, end)

    def explicit_within(self, start: float, end: float) -> tuple[float, Stack]:
        """Seconds of explicit ``gc.collect()`` calls inside ``[start, end]``, and the
        stack that made the longest of them (empty when none)."""
        inside = [(min(end, g_end) - max(start, g_start), stack)
                  for g_start, g_end, stack in self.explicit[:]
                  if g_end > start and g_start < end]
        longest = max(inside, key=lambda part: part[0], default=(0.0, ()))
        return sum(part[0] for part in inside), longest[1]


EXPLICIT_COLLECT = GcPauses._explicit_collect.__code__
_OWN_CODE = frozenset({EXPLICIT_COLLECT.co_qualname, GcPauses._on_gc.__code__.co_qualname})


def own_frames(stack: tuple[Any, ...]) -> int | None:
    """Index in *stack* (outermost first, ``FrameInfo``s) of the outermost frame of
    this module's own code -- the ``gc.collect`` wrapper or the ``gc.callbacks``
    callback -- or None. Everything from there inward is the collection's, not the
    program's: the frame above it called ``gc.collect()`` or allocated."""
    here = EXPLICIT_COLLECT.co_filename
    for index, frame in enumerate(stack):
        if frame.function in _OWN_CODE and frame.file == here:
            return index
    return None


def _overlap(intervals: list[tuple[float, float]], start: float, end: float) -> float:
    intervals = intervals[:]  # the sampler thread's collections append meanwhile
    return sum(max(0.0, min(end, g_end) - max(start, g_start))
               for g_start, g_end in intervals if g_end > start and g_start < end)
