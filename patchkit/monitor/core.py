"""The production monitor: loop-turn timing on the hub, everything else on its own thread.

Cost follows loop iterations, not greenlet switches: the audit's loop-turn clock
(``audit.detectors.turns.TurnClock``), where a libev ``check`` watcher (highest
priority, the first callback after the loop's poll returns) stamps when a loop turn
starts, and a ``prepare`` watcher (lowest priority, after gevent's own prepare, which
runs spawned greenlets and wake-ups, so the last thing before the next poll) stamps
when it ends. A turn is the time the hub's thread spent running greenlets and
callbacks between two polls; one longer than the threshold held every other greenlet.
The two callbacks only read the clock, compare and append -- nothing else runs on the
hub's thread.

A native thread (started with the original ``start_new_thread``) does the rest: while a
turn is overdue it copies the hub thread's stack every ``period`` seconds, and when the
turn ends it splits the turn among the greenlets it saw (a change of the stack's bottom
frame is a change of greenlet), builds the events, rate-limits them per call site and
writes them. A turn with one greenlet gives a ``block`` of the turn's exact length; a
turn with several gives a ``block`` each (split at the samples, to within ``period``)
and a ``lag`` for the whole turn: how late every timer ran.
"""

from __future__ import annotations

import math
import os
import sys
import time
import types
from typing import Any

from ..audit.detectors.sampler import HUB_LOOP, NO_FRAME, Sample, whose
from ..audit.detectors.turns import TurnClock
from .events import Limiter, Sink, StallMeter, now_iso
from .settings import MonitorSettings

__all__ = ["Monitor"]

_MAX_SAMPLES = 256  # per turn; a turn sampled longer keeps its first ones
_GIL_BUSY = 0.003  # the GIL is handed over after sys.getswitchinterval() (5 ms)


class Monitor:
    """Watches the hub of the thread that starts it; see the module docstring.

    Args:
        settings: Threshold, sinks and limits.
    """

    def __init__(self, settings: MonitorSettings) -> None:
        from gevent.monkey import get_original

        sleep = get_original("time", "sleep")
        self._sleep = sleep
        self.settings = settings
        self.stall = StallMeter(sleep)  # the monitor's thread's own stall
        self.start_stall = StallMeter(sleep)  # the thread reading distributions at start
        self.sink = Sink(settings, pause=self.stall.hand_over)
        self.limiter = Limiter(settings.rate)
        self.counts = {"block": 0, "lag": 0, "sent": 0}
        # The loop-turn clock is the audit's: two watchers, nothing per greenlet switch.
        self.clock = TurnClock(settings.threshold, settings.period)
        self._samples: dict[float, list[Sample]] = {}
        self._stop_lock: Any = None
        self._done_lock: Any = None  # released by the monitor's thread when it ends
        self._hub_ident = 0
        self._hub_run: types.CodeType | None = None
        self._attribution: Any = None
        self._originals: frozenset[int] = frozenset()
        self._ready = False  # the installed distributions are read
        self._loading = False  # ... or being read
        self._start_new_thread: Any = None
        self.running = False

    # -- lifecycle -----------------------------------------------------------------------

    def start(self) -> None:
        """Install the watchers on this thread's hub (now or when it is created) and
        start the monitor's thread."""
        from gevent.hub import Hub
        from gevent.monkey import get_original

        # Imported here, on the patching thread: imported later by the monitor's thread,
        # importlib's module locks (gevent locks once patched) would be shared across
        # threads -- a deadlock seen with plain gevent too.
        from ..audit import frames, sites  # noqa: F401
        from ..audit.detectors import sampler  # noqa: F401
        from ..audit.detectors.imports import Attribution
        from ..audit.patching import gevent_saved

        # The same for what the distribution read at start imports on its own thread.
        import email.parser  # noqa: F401

        self._attribution = Attribution()
        self._originals = frozenset(id(o) for attrs in gevent_saved().values()
                                    for o in attrs.values())
        self._hub_ident = get_original("_thread", "get_ident")()
        self._hub_run = Hub.run.__code__
        self.running = True
        self.sink.open()
        self.clock.start()
        self._start_thread()

    def _start_thread(self) -> None:
        from gevent.monkey import get_original

        start_thread, allocate_lock = get_original("_thread", ["start_new_thread",
                                                               "allocate_lock"])
        lock, done = allocate_lock(), allocate_lock()
        lock.acquire()
        done.acquire()
        self._stop_lock, self._done_lock = lock, done
        self._start_new_thread = start_thread
        start_thread(self._run, (lock, done))

    def _load_distributions(self) -> None:
        # The installed distributions (for ``package``), read once, on a thread of their
        # own, one at a time with a GIL hand-over between them (at once they hold the GIL
        # ~150 ms), while the monitor's thread goes on sampling; events wait for them.
        # Started by the first long turn: ~75 ms of CPU that a program that never blocks
        # the hub does not pay (10 % of a 0.6 s benchmark run). It stands aside while a
        # turn is overdue, so as not to take the GIL from the sampling of a block.
        def pause() -> None:
            self.start_stall.hand_over()
            while self.running and \
                    time.perf_counter() - self.clock.stretch_start() >= self.settings.threshold / 2:
                self._sleep(self.settings.period)

        try:
            if self._attribution is not None:
                self.start_stall.run(self._attribution.load_gradually, pause)
        finally:
            self._ready = True

    def after_fork_in_child(self) -> None:
        """Start over in a forked child: its own thread, pid and counts."""
        if not self.running:
            return
        self.clock.forget()
        self._samples.clear()
        self._loading = self._ready  # a read under way in the parent did not survive
        self.limiter = Limiter(self.settings.rate)
        self.stall.worst = 0.0
        self.sink.open()
        self._start_thread()

    def stop(self) -> None:
        """Stop the watchers (call on the hub's thread) and the thread, and send the last
        summary; idempotent."""
        self.close()
        self.clock.stop()

    # -- on the monitor's thread ---------------------------------------------------------

    def _run(self, stop: Any, done: Any) -> None:
        try:
            self._watch(stop)
        finally:
            done.release()

    def _watch(self, stop: Any) -> None:
        settings = self.settings
        next_summary = time.monotonic() + settings.summary
        wait = settings.threshold / 2
        while True:
            due = time.perf_counter() + wait
            if stop.acquire(True, wait):
                break
            try:
                # Woken late by more than a few ms: the hub's thread held the GIL, so it
                # was running bytecode (CPU work), whatever call a sample catches it in.
                wait = self._tick(time.perf_counter() - due > _GIL_BUSY)
                if time.monotonic() >= next_summary:
                    next_summary = time.monotonic() + settings.summary
                    self.stall.run(self._summary)
            except Exception:  # never let the monitor's thread die on one bad sample
                wait = settings.threshold / 2

    def _tick(self, busy: bool = False) -> float:
        settings = self.settings
        start = self.clock.stretch_start()
        age = time.perf_counter() - start
        if age >= settings.threshold / 2:
            self.stall.run(self._sample, start, busy)
            wait = settings.period
        elif start == math.inf:  # between turns (the loop polls): look again in a while
            wait = settings.threshold / 2
        else:  # a young turn: look when it would be overdue
            wait = max(settings.threshold / 2 - age, settings.period)
        if self.clock.closed and not self._ready and not self._loading:
            self._loading = True
            self._start_new_thread(self._load_distributions, ())
        while self.clock.closed and self._ready:
            turn_start, turn_end = self.clock.closed.popleft()
            self.stall.run(self._report, turn_start, turn_end,
                           self._samples.pop(turn_start, []))
        if len(self._samples) > len(self.clock.closed) + 4:  # turns that ended unseen (a fork)
            waiting = {start for start, _ in self.clock.closed}
            for key in sorted(self._samples)[:-1]:
                if key not in waiting:
                    del self._samples[key]
        return wait

    def _sample(self, start: float, busy: bool) -> None:
        from ..audit.frames import capture_stack, resolve_callee

        frame = sys._current_frames().get(self._hub_ident)
        at = time.perf_counter()  # when the stack was seen (a callee lookup can take ms)
        if self.clock.stretch_start() != start:
            return
        bucket = self._samples.setdefault(start, [])
        if frame is None:  # a greenlet running a C function (spawned directly)
            if len(bucket) < _MAX_SAMPLES:
                bucket.append(Sample(at, (), None, True, NO_FRAME))
            return
        if len(bucket) < _MAX_SAMPLES:
            # Copied now: the frame moves on, and must not be kept alive.
            owner = self._owner(frame)
            in_loop = owner is HUB_LOOP
            # Not in the hub's own loop: it is about to take the GIL back, and the first
            # look at a line (reading and parsing its file) holds it for ms.
            callee = None if busy or in_loop else resolve_callee(frame, self._originals)
            bucket.append(Sample(at, capture_stack(frame, self.settings.stack), callee,
                                 busy or callee is None, owner, busy))

    def _owner(self, frame: types.FrameType) -> object:
        """Which greenlet (or hub callback) *frame* belongs to: its bottom frame."""
        bucket = self._samples.get(self.clock.stretch_start())
        return whose(frame, self._hub_run, bucket[-1].owner if bucket else None)

    def _report(self, start: float, end: float, samples: list[Sample]) -> None:
        from .build import block_event, lag_event, segments

        parts = segments(start, end, samples, self.settings.period)
        # The hub in its own loop, sampled after a block, is no greenlet: only where the
        # greenlet before it ended (no lag event for a block alone in its turn).
        greenlets = [p for p in parts if p[2] is None or p[2].owner is not HUB_LOOP]
        parts = greenlets or parts
        if len(parts) > 1:
            self._emit(lag_event(start, end, len(parts)), None, end - start)
        for seg_start, seg_end, sample, group in parts:
            if seg_end - seg_start > self.settings.threshold or len(parts) == 1:
                event = block_event(self._attribution, seg_start, seg_end, sample, group)
                self._emit(event, (event.get("file"), event.get("line")),
                           event["duration_s"])

    def _emit(self, event: dict[str, Any], site: tuple[Any, ...] | None,
              duration: float) -> None:
        self.counts[event["event"]] += 1
        self.sink.observe(event)
        what = {k: event.get(k) for k in ("file", "line", "function", "package")} \
            if site is not None else {"event": "lag"}
        if self.limiter.admit(site or ("lag",), duration, what, time.monotonic()):
            self.counts["sent"] += 1
            self.sink.send(event)

    def _summary(self, force: bool = False) -> None:
        rows = self.limiter.summary(force, self.stall.hand_over)
        lost = self.sink.lost
        if rows is not None or lost:
            summary = {"event": "summary", "time": now_iso(), "pid": os.getpid(),
                       "period_s": self.settings.summary, "sites": rows or [],
                       "monitor_worst_stall_s": round(self.stall.worst, 6),
                       "monitor_start_stall_s": round(self.start_stall.worst, 6)}
            if lost:
                summary["lost_events"] = lost  # not written since the last summary
            self.sink.lost -= lost
            self.sink.send(summary)

    def close(self) -> None:
        """At exit (on the main thread): report the turns the thread had no time for, and
        send the last summary, so the summaries add up to every block."""
        if not self.running:
            return
        self.running = False
        lock, self._stop_lock = self._stop_lock, None
        if lock is not None:
            lock.release()
            # Its thread may be reporting or summarising: let it finish, so that this
            # last summary neither races it over the counts nor misses what it counts.
            self._done_lock.acquire(True, 1.0)
        try:
            self.clock.end_turn()  # a turn still open (the program ended inside it) ends now
            while self.clock.closed:
                start, end = self.clock.closed.popleft()
                self._report(start, end, self._samples.pop(start, []))
            self._summary(force=True)
        except Exception:
            pass
