"""Exact hub-block durations from greenlet switch timing.

A ``greenlet.settrace`` tracer on the hub's thread stamps every switch. The time
between two switches is a *stretch* during which one greenlet held the thread; a
stretch held by anything but the hub that lasts longer than the threshold is a
hub block, timed to the microsecond, however short-lived.

The tracer is the hot path (every switch, ~100k/s on a busy server), so it only
reads the clock, compares, and stores; everything else happens in ``_on_gap``,
which runs only for stretches over the threshold. It runs as the *target* of the
switch (greenlet calls tracers after switching), so the greenlet that held the
stretch is suspended and its frame (``gr_frame``) shows where it yielded.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any, Callable

import greenlet  # type: ignore[import-untyped]

from ..frames import Stack, capture_stack
from ..guard import AUDITOR_TIME

__all__ = ["RawBlock", "SwitchClock"]


@dataclass(frozen=True, slots=True)
class RawBlock:
    """A stretch over the threshold: perf_counter start/end, and where the holder yielded.

    For a greenlet that ended without a Python frame (``gevent.spawn(c_function)``),
    ``switch_out`` is where it was spawned and ``runner`` the callable it ran. Timed by
    loop turn (``turns``), ``switch_out`` is the last stack sampled in it and ``stretch``
    the start of the turn it was part of (what audit events are keyed by).
    """

    start: float
    end: float
    switch_out: Stack
    runner: Any = None
    stretch: float | None = None

    @property
    def key(self) -> float:
        """The stretch (or turn) start that audit events seen during it carry."""
        return self.start if self.stretch is None else self.stretch

    @property
    def duration(self) -> float:
        """Seconds the hub was held, less time the auditor itself spent in the stretch."""
        return self.end - self.start - AUDITOR_TIME.overlap(self.start, self.end)


def _make_tracer(threshold: float, on_gap: Callable[[float, float, Any], None],
                 previous: Callable[[str, Any], Any] | None) -> Callable[[str, Any], None]:
    clock = time.perf_counter
    # inf until the first switch: before the hub ever ran, no greenlet can be waiting.
    last = math.inf

    if previous is None:
        def trace(event: str, args: Any) -> None:
            nonlocal last
            now = clock()
            if now - last > threshold:
                on_gap(last, now, args[0])
            last = now
    else:
        def trace(event: str, args: Any) -> None:
            nonlocal last
            now = clock()
            if now - last > threshold:
                on_gap(last, now, args[0])
            last = now
            previous(event, args)
    return trace


class SwitchClock:
    """Times every stretch between greenlet switches on the thread that starts it.

    Args:
        threshold: Minimum stretch, in seconds, recorded as a block.
    """

    exact = True

    def __init__(self, threshold: float) -> None:
        self.threshold = threshold
        self.blocks: list[RawBlock] = []
        self._tracer: Callable[[str, Any], None] | None = None
        self._previous: Callable[[str, Any], Any] | None = None
        self._hub_type: type | None = None

    def start(self) -> None:
        """Install the tracer on the calling thread (the hub's thread)."""
        from gevent.hub import Hub

        self._hub_type = Hub
        self._previous = greenlet.gettrace()
        self._tracer = _make_tracer(self.threshold, self._on_gap, self._previous)
        greenlet.settrace(self._tracer)

    def stretch_start(self) -> float:
        """When the current stretch began (``inf`` before the first switch); any thread."""
        tracer = self._tracer
        if tracer is None or tracer.__closure__ is None:
            return math.inf
        index = tracer.__code__.co_freevars.index("last")
        value: float = tracer.__closure__[index].cell_contents
        return value

    def settle(self, samples: dict[float, list[Any]]) -> None:
        """Nothing to do: each block is filed as its stretch ends (see ``turns``)."""

    def stop(self) -> None:
        """Remove the tracer (restoring any previous one); idempotent. On the hub's thread.

        A stretch still open and over the threshold is closed now with an empty
        switch-out stack: only the sampler can say where it was.
        """
        start, now = self.stretch_start(), time.perf_counter()
        if now - start > self.threshold:
            self.blocks.append(RawBlock(start, now, ()))
        if self._tracer is not None and greenlet.gettrace() is self._tracer:
            greenlet.settrace(self._previous)
        self._tracer = None

    def _on_gap(self, start: float, end: float, holder: Any) -> None:
        # Runs inside the target's greenlet switch: it must never raise into it.
        try:
            self._record(start, end, holder)
        except Exception:
            self.blocks.append(RawBlock(start, end, ()))

    def _record(self, start: float, end: float, holder: Any) -> None:
        if self._hub_type is not None and isinstance(holder, self._hub_type):
            return  # the hub waiting for I/O, not a block
        frame = getattr(holder, "gr_frame", None)
        if frame is not None:
            self.blocks.append(RawBlock(start, end, capture_stack(frame)))
            return
        # gevent records where each greenlet was spawned (config.track_greenlet_tree).
        spawned = getattr(holder, "spawning_stack", None)
        runner = getattr(holder, "_run", None)
        if getattr(runner, "__self__", None) is holder:
            runner = None  # gevent drops a finished greenlet's function: callee unknown
        self.blocks.append(RawBlock(start, end, capture_stack(spawned), runner or "?"))
