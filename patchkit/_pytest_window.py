"""Per-test windows over one session-long auditor, for the pytest plugin.

The auditor's detectors run for the whole session; a :class:`Window` marks where each
test's observations start and turns the slice into findings. Greenlet-switch timing
only closes a stretch at a switch, so each window begins and ends with a zero-length
cooperative sleep: the test's own blocking ends up inside its window, pytest's
bookkeeping between tests outside every window.
"""

from __future__ import annotations

import os
import threading
import time
from typing import Any

from .audit import advice
from .audit.detectors.imports import Attribution
from .audit.findings import Finding, aggregate, blocks_to_observations, merge_events
from .audit.guard import auditor_work

__all__ = ["Window", "open_window"]

# Kinds a test can cause; stale references and late patching are session-level.
_PER_TEST_KINDS = ("blocking", "misbehavior")


def _cut() -> None:
    import gevent

    gevent.sleep(0)


class Window:
    """The observations recorded since :func:`open_window`."""

    __slots__ = ("auditor", "blocks", "events", "misbehavior", "cpu0", "delay0", "consumed")

    def __init__(self, auditor: Any) -> None:
        self.auditor = auditor
        self.blocks = len(auditor.clock.blocks)
        self.events = len(auditor.events.observations)
        self.misbehavior = len(auditor.misbehavior.observations)
        self.cpu0 = time.thread_time()
        self.delay0 = _run_delay()
        self.consumed: list[Finding] = []

    def findings(self, cpu: bool = False) -> list[Finding]:
        """Aggregate this window's observations (closing the current stretch first).

        Args:
            cpu: Also report blocks of pure Python CPU work (off by default: a test
                that computes for 30 ms is not doing unpatched I/O).
        """
        _cut()
        auditor = self.auditor
        if (len(auditor.clock.blocks) == self.blocks
                and len(auditor.events.observations) == self.events
                and len(auditor.misbehavior.observations) == self.misbehavior):
            return []  # the common case: nothing seen, nothing to aggregate
        with auditor_work():
            attribution = _attribution()
            blocks = auditor.blocks_without_gc(self.blocks)
            timed = blocks_to_observations(blocks,
                                           auditor.sampler.samples,
                                           auditor.config.threshold, attribution)
            observations = merge_events(timed, auditor.events.observations[self.events:],
                                        attribution)
            observations += auditor.misbehavior.observations[self.misbehavior:]
            if not cpu:
                observations = _without_cpu_work(observations, time.thread_time() - self.cpu0,
                                                 _run_delay() - self.delay0)
            context = advice.Context(patchers=frozenset(
                spec.name for spec in _registry().ordered()))
            found = aggregate(observations, attribution, context)
        return [f for f in found if f.kind in _PER_TEST_KINDS and f not in self.consumed
                and not _is_harness(f)]


_HARNESS_PACKAGES = frozenset({"pytest", "pluggy", "pytest-xdist", "execnet", "patchkit"})
_OUR_DIR = os.path.dirname(os.path.abspath(__file__)) + os.sep


def _is_harness(finding: Finding) -> bool:
    """A stretch of pytest's (or this plugin's) own work inside the window, not the test's."""
    return (finding.package in _HARNESS_PACKAGES
            or (finding.file or "").startswith(_OUR_DIR))


_SCHEDSTAT: dict[int, int] = {}


def _run_delay() -> float:
    """Seconds this thread has spent runnable but not running (Linux schedstat), else 0.

    Read every window, so the file stays open and is re-read with one pread.
    """
    tid = threading.get_native_id()
    fd = _SCHEDSTAT.get(tid)
    try:
        if fd is None:
            fd = _SCHEDSTAT[tid] = os.open(f"/proc/self/task/{tid}/schedstat", os.O_RDONLY)
        return int(os.pread(fd, 128, 0).split()[1]) / 1e9
    except (OSError, ValueError, IndexError):
        return 0.0


def _without_cpu_work(observations: list[Any], cpu_used: float,
                      run_delay: float) -> list[Any]:
    """Drop blocks that were Python computing, keep the waits.

    A block with no sampled callee reads as CPU work; but when the sampler thread was
    starved (a loaded machine) a sleep looks the same. Over the window, the thread's CPU
    time tells them apart once the time the OS kept it waiting for a CPU (*run_delay*) is
    taken out of the blocked time: a thread that computed for most of what remains was
    computing; one that used much less was waiting on something, and its blocks stay.
    """
    unexplained = [o for o in observations if o.cpu and o.callee is None]
    if not unexplained:
        return observations
    blocked = sum(o.duration or 0.0 for o in unexplained) - run_delay
    if blocked > 0 and cpu_used < 0.5 * blocked:
        return observations
    return [o for o in observations if not (o.cpu and o.callee is None)]


_ATTRIBUTION: list[Attribution] = []


def _attribution() -> Attribution:
    """One Attribution for the session: reading installed distributions costs ~0.1 s."""
    if not _ATTRIBUTION:
        _ATTRIBUTION.append(Attribution())
    return _ATTRIBUTION[0]


def _registry() -> Any:
    import patchkit

    return patchkit.registry()


def open_window(auditor: Any, cut: bool = True) -> Window:
    """Start a window now; what blocked before this call is not in it.

    Args:
        cut: Close the current stretch first; ``False`` right after :meth:`Window.findings`,
            which just did.
    """
    if cut:
        _cut()
    auditor.sampler.samples.clear()
    auditor.sampler.paused = False
    return Window(auditor)
