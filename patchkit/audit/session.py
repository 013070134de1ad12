"""One audit session per process: the detectors' lifecycle, and the findings so far.

Every front door drives a :class:`Session`: ``python -m patchkit.audit`` (the runner),
``pytest --patchkit``, the in-process API (``patchkit.audit.start()``) and the start-up
hook of a followed child process. The session starts and stops the detectors together on
the hub's thread, restarts them in a forked child (a fork keeps only the forking thread:
the sampler's thread is gone, and what the parent saw is not the child's), and turns
what they recorded into findings, at the end or at any moment for a periodic flush.
"""

from __future__ import annotations

import os
import sys
import threading
import time
import weakref
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Iterable, Protocol

from .._threads import original_thread_api
from .detectors import Detector, Observation
from .detectors.events import AuditEvents
from .detectors.gcpauses import GcPauses
from .detectors.imports import Attribution, KnownImports
from .detectors.loopclock import LAG_THRESHOLD, LoopClock, lag_finding
from .detectors.misbehavior import Misbehavior
from .detectors.sampler import Sampler
from .detectors.stale import StaleScan
from .detectors.switches import SwitchClock
from .detectors.turns import TURN_PERIOD, TurnClock
from .guard import auditor_work
from .patching import PatchWatch

if TYPE_CHECKING:
    from ..model import Finding
    from .frames import Callee, Stack

__all__ = ["Settings", "DetectionSettings", "Mark", "Slice", "Session", "live_sessions"]


class Settings(Protocol):
    """What detection needs from a front door's configuration (``AuditConfig`` has it)."""

    @property
    def threshold(self) -> float: ...

    @property
    def include(self) -> tuple[str, ...]: ...

    @property
    def exclude(self) -> tuple[str, ...]: ...

    @property
    def exact(self) -> bool: ...


@dataclass(frozen=True)
class DetectionSettings:
    """:class:`Settings` for a front door that has no configuration of its own to pass
    (the in-process API, the pytest plugin)."""

    threshold: float
    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    exact: bool = False


@dataclass(frozen=True)
class Mark:
    """Where a window of observations starts (:meth:`Session.mark`)."""

    blocks: int
    events: int
    misbehavior: int
    cpu: float  # the hub thread's CPU time
    run_delay: float  # seconds the hub thread was runnable but not running


@dataclass(frozen=True)
class Slice:
    """What was recorded since a :class:`Mark`, raw (:meth:`Session.snapshot`).

    Attributes:
        blocks: Timed blocks that held the hub (not mostly garbage collection).
        events, misbehavior: Those detectors' observations since the mark.
        samples, delays: The sampler's stacks and run-delay readings, by block start.
        original_ids: ids of the originals patching replaced.
        gc: The garbage-collection pauses (``within(start, end)``).
        cpu_used, run_delay: The hub thread's CPU time and run delay since the mark.
        threshold: The session's threshold.
    """

    blocks: list[Any]
    events: list[Observation]
    misbehavior: list[Observation]
    samples: dict[float, list[Any]]
    delays: dict[float, float]
    original_ids: Any
    gc: Any
    cpu_used: float
    run_delay: float
    threshold: float


_SESSIONS: weakref.WeakSet[Session] = weakref.WeakSet()
_FORK_HOOKED = False


def live_sessions() -> list[Session]:
    """The sessions started and not stopped in this process."""
    return [s for s in list(_SESSIONS) if s.running]


def _after_fork_in_child() -> None:
    for session in live_sessions():
        try:
            session.restart_after_fork()
        except Exception:  # never break the program's fork for the auditor's sake
            session.running = False


class Session:
    """All detectors of one process, started and stopped together on the hub's thread.

    Args:
        settings: Threshold and package filters.
    """

    def __init__(self, settings: Settings) -> None:
        self.config = settings
        self.pid = os.getpid()
        self.role = "main"
        self.running = False
        self._own_threads: list[Callable[[], Iterable[int | None]]] = []
        self._fork_listeners: list[Callable[[Session], None]] = []
        self.started = time.perf_counter()
        self.started_at = time.time()
        self._build()

    def _build(self) -> None:
        _, _, get_ident = original_thread_api()
        self.hub_ident = get_ident()
        threshold = self.config.threshold
        self.watch = PatchWatch(self._on_patch)
        self.clock: SwitchClock | TurnClock
        if self.config.exact:
            self.clock = SwitchClock(threshold)
            period = min(max(threshold / 2, 0.002), 0.05)
        else:  # by loop turn: sampled often while a turn is overdue, to split it
            period = min(TURN_PERIOD, threshold / 4)
            self.clock = TurnClock(threshold, period)
        self.sampler = Sampler(self.hub_ident, self.clock.stretch_start, period=period,
                               min_age=threshold / 2, originals=lambda: self.watch.original_ids,
                               blocks=self.clock.blocks, hub_native_id=threading.get_native_id(),
                               settle=None if self.clock.exact else self.clock.settle)
        self.events = AuditEvents(self.hub_ident, get_ident, lambda: self.watch.patched,
                                  self.clock.stretch_start)
        self.stale = StaleScan(self.watch.label, lambda: self.watch.original_ids)
        self.misbehavior = Misbehavior(self._own_idents)
        self.gc = GcPauses()
        self.known = KnownImports()
        self.loop = LoopClock(max(threshold, LAG_THRESHOLD))

    def _detectors(self) -> tuple[Detector, ...]:
        """The detectors, in the order they start and stop: after the patch watch starts
        and before it stops (it tells the others what patching replaced)."""
        return (self.clock, self.sampler, self.events, self.misbehavior, self.gc, self.known,
                self.loop)

    def _own_idents(self) -> set[int]:
        own = {self.hub_ident, self.sampler.ident,
               *(ident for idents in self._own_threads for ident in idents())}
        return {ident for ident in own if ident is not None}

    def patched_modules(self) -> list[str]:
        """Every module patching touched since the session started watching, sorted."""
        return self.watch.patched_modules()

    def add_own_threads(self, idents: Callable[[], Iterable[int | None]]) -> None:
        """Count the threads *idents* names (asked each time; None skipped) as the
        auditor's own, like the sampler's: what they do is not the program's."""
        self._own_threads.append(idents)

    def on_fork(self, listener: Callable[[Session], None]) -> None:
        """Call ``listener(session)`` in a forked child, once the session restarted there."""
        self._fork_listeners.append(listener)

    def start(self) -> None:
        """Start every detector; call on the thread that will run the target."""
        global _FORK_HOOKED
        self.started = time.perf_counter()
        self.started_at = time.time()
        self.running = True
        _SESSIONS.add(self)
        if not _FORK_HOOKED:
            os.register_at_fork(after_in_child=_after_fork_in_child)
            _FORK_HOOKED = True
        self.watch.start()
        for detector in self._detectors():
            detector.start()

    def mark(self, reading: bool = True) -> Mark:
        """Start a window: what is recorded from now on is :meth:`snapshot` (*mark*)'s.
        The samples kept so far are dropped (their blocks ended) and sampling resumes.

        Args:
            reading: Read the hub thread's run delay first, so the window's first block
                has a reading at its start.
        """
        if reading:
            self.sampler.tick()
        self.sampler.samples.clear()
        self.pause(False)
        return Mark(len(self.clock.blocks), len(self.events.observations),
                    len(self.misbehavior.observations), time.thread_time(), self._run_delay())

    def changed(self, since: Mark) -> bool:
        """Whether a block, an audit event or a misbehaviour was recorded since *since*."""
        return (len(self.clock.blocks) != since.blocks
                or len(self.events.observations) != since.events
                or len(self.misbehavior.observations) != since.misbehavior)

    def snapshot(self, since: Mark) -> Slice:
        """What was recorded since *since*, with a run-delay reading taken now (at the end
        of the blocks that just ended); the CPU time is read first, before any of the
        caller's own work."""
        self.sampler.tick()
        cpu_used = time.thread_time() - since.cpu
        run_delay = self._run_delay() - since.run_delay
        from .findings import held_the_hub

        sampler, threshold = self.sampler, self.config.threshold
        blocks = [b for b in self.blocks_without_gc(since.blocks)
                  if held_the_hub(b, threshold, sampler.delays)]
        return Slice(blocks, self.events.observations[since.events:],
                     self.misbehavior.observations[since.misbehavior:], sampler.samples,
                     sampler.delays, self.watch.original_ids, self.gc,
                     cpu_used, run_delay, threshold)

    def waits(self, blocks: list[Any]) -> dict[float, float]:
        """Seconds each block's thread waited (``Sampler.waits``), read again now that the
        readings after each block are in: a reading the sampler took while the hub's
        thread was queued for a CPU counts that delay only later (``RunDelay.waited``)."""
        waits = dict(self.sampler.waits)
        reader = self.sampler.run_delay
        if reader is not None:
            for block in blocks:
                waited = reader.waited(block.start, block.end)
                if waited is not None:
                    waits[block.start] = waited
        return waits

    def _run_delay(self) -> float:
        """Seconds the hub's thread has spent runnable but not running, else 0."""
        reader = self.sampler.run_delay
        return (reader.read() or 0.0) if reader is not None else 0.0

    def pause(self, paused: bool = True) -> None:
        """Stop looking at the hub's stack (or look again): time that is not the
        program's (pytest's collection, between tests) yields no samples."""
        self.sampler.paused = paused

    def on_overdue(self, after: float,
                   callback: Callable[[float, Stack, Callee | None], None]) -> Callable[[], None]:
        """Have the sampler's thread call ``callback(start, stack, callee)`` for a hub block
        older than *after* seconds, while it lasts (one callback at a time); returns the
        undo."""
        entry = (after, callback)
        self.sampler.overdue = entry

        def undo() -> None:
            if self.sampler.overdue is entry:
                self.sampler.overdue = None
        return undo

    def _on_patch(self) -> None:
        with auditor_work():
            self.stale.scan()
            self.misbehavior.on_patch()

    def stop(self, final_scan: bool = True) -> None:
        """Stop every detector (idempotent) and take the exit-time stale scan.

        Args:
            final_scan: Scan for stale references once more (the pytest plugin, which
                reports no stale references, skips it).
        """
        with auditor_work():
            self.running = False
            for detector in self._detectors():
                detector.stop()
            if final_scan:
                self.watch.refresh()
                self.stale.scan()
            self.watch.stop()

    def restart_after_fork(self) -> None:
        """In a forked child: drop the parent's records and start every detector afresh.

        The parent's sampler thread did not survive the fork; its locks are left as the
        fork found them (waiting on them would hang), so it is abandoned, not stopped.
        """
        with auditor_work():
            self.sampler.abandon()
            for detector in self._detectors():
                if detector is not self.sampler:
                    detector.stop()
            self.watch.stop()
        self.pid = os.getpid()
        self.role = "fork"
        self._build()
        self.start()
        for listener in list(self._fork_listeners):
            listener(self)

    def findings(self, target_file: str | None) -> list[Finding]:
        """Everything observed so far, as aggregated findings filtered by include/exclude.

        Safe to call while the detectors run (a periodic flush): it reads copies.
        """
        from . import advice
        from .findings import aggregate

        with auditor_work():
            self.sampler.settle()  # the loop turns that ended since the sampler last looked
            attribution = Attribution()
            observations = self._observations(attribution, target_file)
            context = advice.Context(
                stale={(r.module, r.name): r.original for r in list(self.stale.found.values())},
                patchers=_patcher_names(), imported=self.known.names(),
                imports=list(self.events.imports))
            findings = aggregate(observations, attribution, context, origin=self.started)
            largest = max((f.max_s for f in findings if f.kind == "blocking"), default=0.0)
            lag = lag_finding(self.loop, self.started, largest)
            findings = [f for f in findings if wanted(f, self.config)]
            # Filtered to nothing, the program's blocks were left out on purpose: so is lag.
            filtered = bool(self.config.include or self.config.exclude) and not findings
            return findings + [lag] if lag is not None and not filtered else findings

    def blocks_without_gc(self, since: int = 0) -> list[Any]:
        """The timed blocks from *since* on, less those that were mostly garbage collection."""
        threshold = self.config.threshold
        return [b for b in self.clock.blocks[since:]
                if b.end - b.start - self.gc.within(b.start, b.end) > threshold]

    def activity(self) -> tuple[int, ...]:
        """A cheap fingerprint of what was recorded: it changes when findings may have."""
        return (len(self.clock.blocks), len(self.events.observations),
                len(self.sampler.hub_callbacks), len(self.stale.found),
                len(self.misbehavior.observations), len(self.events.imports),
                len(self.loop.episodes), int(self.watch.patched))

    def _observations(self, attribution: Attribution, target_file: str | None) -> list[Observation]:
        from . import collect
        from .findings import blocks_to_observations, callback_observations, merge_events
        from .garbage import collections_as_computation

        blocks, waits = self.blocks_without_gc(), dict(self.sampler.waits)
        timed = blocks_to_observations(blocks, dict(self.sampler.samples),
                                       self.config.threshold, attribution,
                                       self.watch.original_ids, dict(self.sampler.delays),
                                       waits)
        collections_as_computation(timed, blocks, self.gc, waits)
        timed += callback_observations(list(self.sampler.hub_callbacks), self.config.threshold)
        observations = merge_events(timed, list(self.events.observations), attribution)
        refs = list(self.stale.found.values())
        observations += collect.stale_observations(refs)
        observations += collect.late_patch_observations(list(self.events.imports), refs,
                                                        attribution)
        observations += list(self.misbehavior.observations)
        if not self.watch.patched:
            observations.append(collect.unpatched_observation(target_file))
        return observations


def _patcher_names() -> frozenset[str]:
    try:
        import patchkit

        return frozenset(spec.name for spec in patchkit.registry().ordered())
    except Exception:
        return frozenset()


def _normal(name: str) -> str:
    return name.lower().replace("_", "-")


def wanted(finding: Finding, settings: Settings) -> bool:
    """Whether *finding* passes the include/exclude package filters."""
    package = _normal(finding.package or "app")
    include = {_normal(p) for p in settings.include}
    exclude = {_normal(p) for p in settings.exclude}
    return (not include or package in include) and package not in exclude


def command_line() -> list[str]:
    """This process's full command line, as it was started."""
    return list(getattr(sys, "orig_argv", sys.argv))
