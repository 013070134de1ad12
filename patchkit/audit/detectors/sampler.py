"""Where a hub block is: the blocked greenlet's stack, captured while it is still blocked.

A native thread (started with the original ``_thread.start_new_thread``, so patching
cannot turn it into a greenlet) wakes every ``period`` seconds. When the hub thread's
current stretch is older than ``min_age`` and the thread is not the hub idling in
its loop, it copies that thread's stack from ``sys._current_frames()`` and names
the callee the innermost frame is waiting in. Samples are keyed by the stretch's
start, the same key the switch clock gives the block when it ends.

A call that holds the GIL (ctypes ``PyDLL``, a huge regex) keeps this thread from
running; such a block still gets its exact duration from the switch clock and the
place where the greenlet yielded afterwards.

A look that finds the auditor's own code running on the hub's thread (its audit hook,
inside the program's call to the original that raised the event) is a look at the
program's frame that made that call (:func:`~patchkit.audit.guard.program_frame`).
"""

from __future__ import annotations

import time
import types
from collections import Counter
from dataclasses import dataclass
from typing import Any, Callable

from ..._threads import original_thread_api
from ..frames import (Callee, Stack, bottom_of, capture_stack, current_frames, owner_of,
                      resolve_callee)
from ..guard import program_frame
from .schedstat import RunDelay
from .switches import RawBlock

__all__ = ["HUB_LOOP", "NO_FRAME", "UNSEEN", "HubCallback", "Sample", "Sampler", "dominant_callee",
           "whose"]

_MAX_SAMPLES_PER_STRETCH = 64  # (per owner's run, timing by turn)
_MAX_SAMPLES_PER_TURN = 2_048
_MAX_STRETCHES = 20_000
_GIL_BUSY = 0.003  # the GIL is handed over after sys.getswitchinterval() (5 ms)


@dataclass(frozen=True, slots=True)
class HubCallback:
    """Python code the hub itself ran (a ``link`` callback, a watcher callback) for
    about ``end - start`` seconds: estimated from samples, to within one period."""

    start: float
    end: float
    stack: Stack
    callee: Callee | None
    run_delay: float = 0.0


@dataclass(frozen=True, slots=True)
class Sample:
    """A stack seen during a still-open stretch, and the callee it was waiting in.

    ``cpu``: it ran bytecode (the GIL was held when the sampler woke, or no callee).
    ``held``: the sampler woke late, so the thread held the GIL. ``owner``: which
    greenlet (its bottom frame, held until the turn is settled so its address cannot be
    reused) or hub work (a callback's code, :data:`HUB_LOOP`) -- when timing by turn.
    """

    at: float
    stack: Stack
    callee: Callee | None
    cpu: bool
    owner: object = None
    held: bool = False


HUB_LOOP = "hub loop"  # the owner of a sample of the hub running no Python callback
NO_FRAME = "no Python frame"  # ... of a greenlet running a C function (spawned directly)
UNSEEN = "unseen"  # the runner of a turn's part no sample saw (the GIL held throughout)


def whose(frame: types.FrameType, hub_run: types.CodeType | None, previous: object) -> object:
    """Whose a look at the hub's thread found running (timing by turn): the hub's own work
    (a callback's code, or :data:`HUB_LOOP` when it runs none) or a greenlet's
    (:func:`~patchkit.audit.frames.owner_of`; *previous*: the turn's last owner)."""
    bottom, above = bottom_of(frame)
    if bottom.f_code is hub_run:
        return above.f_code if above is not None else HUB_LOOP
    return owner_of(bottom, previous)


def dominant_callee(callees: list[Callee | None]) -> Callee | None:
    """The callee seen in most samples; None when most samples ran bytecode (CPU work).

    A CPU loop that calls a cheap builtin (``time.perf_counter()``) is caught inside it
    now and then; only a callee present in most samples is what the code waited in.
    """
    if not callees:
        return None
    counts = Counter(c.name if c is not None else None for c in callees)
    name, seen = counts.most_common(1)[0]
    if name is None or seen * 2 <= len(callees):
        return None
    return next(c for c in callees if c is not None and c.name == name)


class Sampler:
    """Samples the hub thread's stack during overdue stretches.

    Args:
        hub_ident: OS thread id of the hub's thread.
        stretch_start: Returns the start of the current stretch (see SwitchClock).
        period: Seconds between wake-ups.
        min_age: Minimum age of a stretch before its stack is copied.
        originals: Returns the ids of replaced originals (to mark original callees).
        blocks: The clock's blocks (annotated with run delay and CPU readings).
        hub_native_id: The hub thread's native id (for its scheduler statistics).
        settle: The turn clock's ``settle``: samples then name their owner, and the
            thread sleeps while no turn can be overdue.
    """

    def __init__(self, hub_ident: int, stretch_start: Callable[[], float], period: float,
                 min_age: float, originals: Callable[[], frozenset[int]],
                 blocks: list[RawBlock] | None = None, hub_native_id: int | None = None,
                 settle: Callable[[dict[float, list[Sample]]], None] | None = None) -> None:
        self.hub_ident = hub_ident
        # Timing by loop turn (``turns``): samples name their owner, the thread sleeps
        # until a turn could be overdue, and long turns are split into blocks at each tick.
        self._settle = settle
        self._owner_run: tuple[float, object, int] = (0.0, None, 0)  # turn, owner, samples
        self.blocks = blocks if blocks is not None else []
        self.run_delay = RunDelay(hub_native_id) if hub_native_id is not None else None
        self.delays: dict[float, float] = {}
        # Block start -> seconds of it the hub's thread at least waited (RunDelay.waited).
        self.waits: dict[float, float] = {}
        self.hub_callbacks: list[HubCallback] = []
        self._callback: tuple[Any, float, float, Stack, list[Callee | None]] | None = None
        self._annotated = 0
        self.stretch_start = stretch_start
        self.period = period
        self.min_age = min_age
        # Set by the pytest plugin between tests: pytest's own long stretches (collection,
        # reporting) are not worth sampling, and sampling them costs the GIL.
        self.paused = False
        # (seconds, callback(start, stack, callee)): called once, on this thread, for a
        # stretch still open after that long (the pytest plugin's live warning).
        self.overdue: tuple[float, Callable[[float, Stack, Callee | None], None]] | None = None
        self._overdue_start = 0.0
        self.originals = originals
        self.samples: dict[float, list[Sample]] = {}
        self.ident: int | None = None
        self._stop_lock: Any = None
        self._done_lock: Any = None
        self._tick_lock: Any = None
        self._hub_run: types.CodeType | None = None
        self._get_ident: Callable[[], int] = lambda: 0

    def start(self) -> None:
        """Start the sampling thread."""
        from gevent.hub import Hub

        self._hub_run = Hub.run.__code__
        start_thread, allocate_lock, self._get_ident = original_thread_api()
        self._stop_lock, self._done_lock = allocate_lock(), allocate_lock()
        self._tick_lock = allocate_lock()
        self._stop_lock.acquire()
        self._done_lock.acquire()
        start_thread(self._run, ())

    def stop(self) -> None:
        """Stop the thread and wait (at most a second) for it; idempotent.

        Takes a last run-delay reading so blocks that just ended are annotated too.
        """
        if self._stop_lock is None:
            return
        self._stop_lock.release()
        self._done_lock.acquire(True, 1.0)
        self._stop_lock = None
        self.tick()
        self._close_callback()
        if self.run_delay is not None:
            self.run_delay.close()

    def abandon(self) -> None:
        """In a forked child: forget the thread, which the fork did not copy; never waits."""
        self._stop_lock = None
        if self.run_delay is not None:
            self.run_delay.close()

    def _run(self) -> None:
        import threading

        self.ident = self._get_ident()
        own = RunDelay(threading.get_native_id())
        stop = self._stop_lock
        try:
            while True:
                if self.paused:
                    # Between tests (pytest plugin): no reads, no samples -- each read
                    # releases the GIL and costs the hub's thread a hand-over.
                    if stop.acquire(True, self.period):
                        break
                    continue
                before, queued = time.perf_counter(), own.read() or 0.0
                wait = self._wait()
                if stop.acquire(True, wait):
                    break
                woke = time.perf_counter()

                late = woke - before - wait

                def busy() -> bool:
                    # Late by more than a few ms, not counting time the OS kept this
                    # thread off the CPU: the hub's thread held the GIL, so it was
                    # running bytecode (CPU work), not waiting in a call that released
                    # the GIL. Asked only for a sample, and read only when late.
                    return late > _GIL_BUSY and (  # noqa: B023  (called in this pass)
                        late - ((own.read() or 0.0) - queued) > _GIL_BUSY)  # noqa: B023

                try:
                    self.tick()
                    self.sample(busy, late > _GIL_BUSY)
                except Exception:  # a frame vanished mid-read; the next sample will do
                    pass
        finally:
            own.close()
            self._done_lock.release()

    def tick(self) -> None:
        """Read the hub thread's run delay and CPU time; annotate blocks ended since
        (``delays``, ``waits``).

        Any thread: the pytest plugin ticks on the hub's thread at each window's edges.
        Timing by turn, the turns that ended are settled into blocks first.
        """
        lock = self._tick_lock
        if lock is None:
            self._tick()
            return
        with lock:
            self._tick()

    def settle(self) -> None:
        """Split the long turns that ended into blocks now (timing by turn); any thread."""
        if self._settle is None:
            return
        lock = self._tick_lock
        if lock is None:
            self._settle(self.samples)
            return
        with lock:
            self._settle(self.samples)

    def _wait(self) -> float:
        """Seconds to sleep: the period, or (timing by turn) until the turn is half the
        threshold old, or that long while the loop polls.

        Each wake takes the GIL, and a busy hub pays for the hand-over (on a saturated
        2-core gunicorn worker, a look every 2-5 ms cost 25 % of its CPU, every 10 ms
        20 %, none 6 %); a block over the threshold is still seen by the second look.
        """
        if self._settle is None:
            return self.period
        start = self.stretch_start()
        age, young = time.perf_counter() - start, self.min_age
        if age >= young:
            bucket = self.samples.get(start)
            if bucket and len(bucket) >= 2 and bucket[-1].owner is not bucket[-2].owner:
                # The last two looks saw different greenlets (a busy hub's long turn of
                # many short runs): look every quarter threshold until one is seen twice.
                return max(young / 2, self.period)
            return self.period
        if age < -1e9:  # no turn open (inf): the loop polls
            return young
        return max(young - age, self.period)

    def _tick(self) -> None:
        if self._settle is not None:
            self._settle(self.samples)
        if self.run_delay is None or not self.run_delay.available:
            return
        now = time.perf_counter()
        keep = min(self.stretch_start(), now - 1.0)
        if self._annotated < len(self.blocks):
            keep = min(keep, self.blocks[self._annotated].start)
        self.run_delay.tick(now, keep)
        while self._annotated < len(self.blocks) and self.blocks[self._annotated].end <= now:
            block = self.blocks[self._annotated]
            delay = self.run_delay.within(block.start, block.end)
            if delay is not None:
                self.delays[block.start] = delay
            waited = self.run_delay.waited(block.start, block.end)
            if waited is not None:
                self.waits[block.start] = waited
            self._annotated += 1

    def sample(self, busy: Callable[[], bool] = lambda: False, late: bool = True) -> None:
        """Take one sample if the hub thread is in an overdue, non-idle stretch.

        *busy()* says the hub's thread held the GIL when this thread woke (CPU work); it
        is asked only when a sample is taken. *late*: this thread woke late (the GIL was
        held, or the OS kept it off a CPU), so the samples before it may have missed a
        greenlet's whole run.

        Timing by turn, the first sample of a greenlet's run in a turn is only whose it
        is, unless this thread woke late: its stack is copied from the run's second sample
        on. A run no second sample sees lasted under two periods, far under the
        threshold; a busy server's long turns are mostly such runs, and copying each
        stack was most of what the sampler cost it.
        """
        if self.paused:
            return
        start = self.stretch_start()
        age = time.perf_counter() - start
        if age < self.min_age:
            if self._settle is not None and age >= self.min_age / 2:
                self._owner_sample(start, busy)
            return
        frame = self._hub_frame()
        if frame is None:
            if self._settle is not None:
                self._note(start, NO_FRAME, False, cpu=True)
            return
        held = busy()
        bottom, above = bottom_of(frame)
        if bottom.f_code is self._hub_run:
            self._hub_callback(frame, above if above is not None else True, held)
            if self._settle is not None:  # the hub's own work cuts the turn's parts
                self._note(start, above.f_code if above is not None else HUB_LOOP, held)
            return
        self._close_callback()
        owner = None
        if self._settle is not None:
            last = self._last_owner(start)
            owner = owner_of(bottom, last)
            if owner is not last and not late and self.overdue is None:
                self._note(start, owner, held)
                return
        callee = resolve_callee(frame, self.originals())
        stack = capture_stack(frame)
        if self.stretch_start() != start:
            return  # the stretch ended while we looked; the stack may be the next one's
        overdue = self.overdue
        if (overdue is not None and start != self._overdue_start
                and time.perf_counter() - start > overdue[0]):
            self._overdue_start = start
            overdue[1](start, stack, callee)
        self._keep(start, Sample(time.perf_counter(), stack, callee, held or callee is None,
                                 owner, held))

    def _owner_sample(self, start: float, busy: Callable[[], bool]) -> None:
        """A young turn's sample (timing by turn, when a look lands between a quarter and
        half the threshold): only whose it is, for the boundaries of its parts -- where
        a greenlet that goes on to block began. No stack: cheap."""
        frame = self._hub_frame()
        if frame is None:
            self._note(start, NO_FRAME, True)
            return
        held = busy()
        self._note(start, whose(frame, self._hub_run, self._last_owner(start)), held)

    def _hub_frame(self) -> types.FrameType | None:
        """Where the hub's thread is: its current frame, or the program's frame the
        auditor's own code runs inside; None when no Python frame is."""
        frame = current_frames().get(self.hub_ident)
        return program_frame(frame) if frame is not None else None

    def _note(self, start: float, owner: object, held: bool, cpu: bool | None = None) -> None:
        """Keep a sample of whose the turn is, with no stack, unless the turn ended while
        this thread looked."""
        if self.stretch_start() == start:
            self._keep(start, Sample(time.perf_counter(), (), None,
                                     held if cpu is None else cpu, owner, held))

    def _last_owner(self, start: float) -> object:
        bucket = self.samples.get(start)
        return bucket[-1].owner if bucket else None

    def _keep(self, start: float, sample: Sample) -> None:
        """File *sample* under its stretch: the first ones in full. Timing by turn, that
        is per owner's run of samples, and past it the run's last sample is kept up to
        date (where the run ends is a boundary)."""
        bucket = self.samples.get(start)
        if bucket is None:
            if len(self.samples) >= _MAX_STRETCHES:
                return
            bucket = self.samples[start] = []
        if sample.owner is None:
            if len(bucket) < _MAX_SAMPLES_PER_STRETCH:
                bucket.append(sample)
            return
        key, owner, count = self._owner_run
        count = count + 1 if key == start and owner is sample.owner and bucket \
            and bucket[-1].owner is owner else 1
        self._owner_run = (start, sample.owner, count)
        if count > _MAX_SAMPLES_PER_STRETCH + 1:
            bucket[-1] = sample
        elif len(bucket) < _MAX_SAMPLES_PER_TURN:
            bucket.append(sample)

    def _hub_callback(self, frame: types.FrameType, above: types.FrameType | bool,
                      busy: bool) -> None:
        now = time.perf_counter()
        key = (id(above), above.f_code) if not isinstance(above, bool) else None
        current = self._callback
        callee = None if busy else resolve_callee(frame, self.originals())
        if current is not None and current[0] == key:
            callees = current[4][-_MAX_SAMPLES_PER_STRETCH:] + [callee]
            self._callback = (key, current[1], now, capture_stack(frame), callees)
            return
        self._close_callback()
        if key is not None:
            self._callback = (key, now, now, capture_stack(frame), [callee])

    def _close_callback(self) -> None:
        current, self._callback = self._callback, None
        if current is None:
            return
        _, first, last, stack, callees = current
        start, end = first - self.period / 2, last + self.period / 2
        if end - start > 2 * self.min_age:
            delay = self.run_delay.within(start, end) if self.run_delay is not None else None
            self.hub_callbacks.append(HubCallback(start, end, stack, dominant_callee(callees),
                                                  delay or 0.0))
