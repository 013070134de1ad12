"""Per-test windows over one session-long auditor, for the pytest plugin.

The auditor's detectors run for the whole session; a :class:`Window` marks where each
test's observations start and turns the slice into findings. Greenlet-switch timing
only closes a stretch at a switch, so each window begins and ends with a zero-length
cooperative sleep: the test's own blocking ends up inside its window, pytest's
bookkeeping between tests outside every window.
"""

from __future__ import annotations

import os
from typing import Any, NamedTuple

from ..audit import advice
from ..audit.detectors.imports import Attribution
from ..audit.findings import (COMPUTED, IN_GEVENT, UNSAMPLED, WAITED, aggregate,
                             blocks_to_observations, find_site, merge_events)
from ..audit.garbage import collections_as_computation
from ..audit.frames import FrameInfo
from ..audit.guard import auditor_work
from ..audit.session import Mark, Session
from ..model import Finding

__all__ = ["Verdicts", "Window", "open_window", "test_site", "describe_block", "UNKNOWN"]

# Kinds a test can cause; stale references and late patching are session-level.
_PER_TEST_KINDS = ("blocking", "misbehavior")


def _cut() -> None:
    """End the current stretch with a switch."""
    import gevent

    gevent.sleep(0)


class Verdicts(NamedTuple):
    """A window's findings by what they do to the test."""

    failing: list[Finding]  # waits on the hub (everything, with --patchkit-cpu)
    computing: list[Finding]  # computation on the hub: reported, not failed
    unknown: list[Finding]  # no CPU-time reading of their own: reported, not failed


class Window:
    """The observations recorded since :func:`open_window`."""

    __slots__ = ("session", "mark", "consumed")

    def __init__(self, session: Session, mark: Mark) -> None:
        self.session = session
        self.mark = mark
        self.consumed: list[Finding] | None = None  # findings fetched by patchkit_findings

    def findings(self, cpu: bool = False, item: Any = None) -> list[Finding]:
        """This window's findings that fail a test (see :meth:`split`)."""
        return self.split(cpu, item).failing

    def split(self, cpu: bool = False, item: Any = None) -> Verdicts:
        """Aggregate this window's observations (closing the current stretch first) into
        what fails the test, computation on the hub that does not, and blocks whose
        cause is unknown (:class:`Verdicts`).

        Args:
            cpu: Computation fails too (off by default: a test that computes for 30 ms,
                in Python or in C, is not doing unpatched I/O), and so does a block
                that could be either.
            item: The pytest item; its test function is blamed for a block nobody
                sampled that the test's greenlet only yielded after in pytest's or this
                plugin's code.
        """
        _cut()
        if not self.session.changed(self.mark):
            return Verdicts([], [], [])  # the common case: nothing seen, nothing to aggregate
        with auditor_work():
            observations = self._observations(item)
            if observations is None:
                return Verdicts([], [], [])
            attribution = _attribution()
            unknown = [] if cpu else [o for o in observations if o.detail.startswith(UNKNOWN)]
            computing = [] if cpu else [o for o in observations if o.cpu]
            waits = [o for o in observations
                     if cpu or not (o.cpu or o.detail.startswith(UNKNOWN))]
            context = advice.Context(patchers=frozenset(
                spec.name for spec in _registry().ordered()))
            found = [aggregate(part, attribution, context, origin=self.session.started)
                     for part in (waits, computing, unknown)]
        consumed = self.consumed or ()
        kept = [[f for f in part if f.kind in _PER_TEST_KINDS and f not in consumed
                 and not _is_harness(f)] for part in found]
        return Verdicts(*kept)

    def _observations(self, item: Any) -> list[Any] | None:
        """The window's observations, sited; None when nothing held the hub (only a
        garbage collection, or the OS not running the thread)."""
        # The test's CPU time is read first, before this plugin's own work below (building
        # the session's Attribution computes for ~0.1 s the first time).
        seen = self.session.snapshot(self.mark)
        blocks = seen.blocks
        if not (blocks or seen.events or seen.misbehavior):
            return None  # building an Attribution costs ~0.1 s: not for nothing
        attribution = _attribution()
        shares = self.session.waits(blocks)
        timed = blocks_to_observations(blocks, seen.samples, seen.threshold, attribution,
                                       seen.original_ids, seen.delays, shares)
        observations: list[Any] = (merge_events(timed, seen.events, attribution)
                                   + seen.misbehavior)
        collections_as_computation(observations, blocks, seen.gc, set(shares))
        _without_readings(observations, seen.cpu_used, seen.run_delay, shares)
        if item is not None:
            _blame_test(observations, test_site(item), attribution)
        return observations


_HARNESS_PACKAGES = frozenset({"pytest", "pluggy", "pytest-xdist", "execnet", "patchkit"})
_OUR_DIR = os.path.dirname(os.path.abspath(__file__)) + os.sep


def _is_harness(finding: Finding) -> bool:
    """A stretch of pytest's (or this plugin's) own work inside the window, not the test's."""
    return (finding.package in _HARNESS_PACKAGES
            or (finding.file or "").startswith(_OUR_DIR))


def _blame_test(observations: list[Any], where: FrameInfo, attribution: Attribution) -> None:
    """A block with no stack from while it lasted -- unsampled, a wait sampled only once
    it was over, or of :data:`UNKNOWN` cause -- that shows harness code (this plugin's
    cut at the window's end, pytest's capture after the test returned) happened in the
    test: it is sited at the test."""
    for obs in observations:
        unsited = UNSAMPLED in obs.detail or obs.detail.startswith((WAITED, UNKNOWN))
        if not unsited or obs.site is not None:
            continue
        site = find_site(obs.stack, attribution)
        file = site.frame.file if site.frame is not None else ""
        if site.package in _HARNESS_PACKAGES or file.startswith(_OUR_DIR) or not file:
            obs.site, obs.stack = where, ()  # the stack is the harness's: it would mislead
            obs.detail = ((f"{UNKNOWN}; " if obs.detail.startswith(UNKNOWN) else "")
                          + "no stack was sampled while it lasted (a call that holds the "
                          "GIL, or a busy machine): it happened somewhere in this test")


def _unexplained(obs: Any, shares: dict[float, float]) -> bool:
    """A block with no verdict from its own CPU time (no schedstat, or too few readings
    around it; *shares* has the verdicts): sampled running bytecode, not sampled at all,
    or sampled in a call that is not an original and no audit event explained (a C
    function: computing or waiting)."""
    if obs.kind != "blocking" or obs.stretch in shares or obs.detail.startswith(IN_GEVENT):
        return False
    callee = obs.callee
    if callee is None:
        return bool(obs.cpu or obs.detail == UNSAMPLED)
    return not obs.detail and not (callee.original or callee.original_class)


def _without_readings(observations: list[Any], cpu_used: float, run_delay: float,
                      shares: dict[float, float]) -> None:
    """Decide the blocks that no CPU-time reading of their own classified.

    A block with no sampled callee reads as CPU work; but when the sampler thread was
    starved (a loaded machine) a sleep looks the same, and a call that holds the GIL is
    never sampled. Over the window, the thread's CPU time, once the time the OS kept it
    waiting for a CPU (*run_delay*) is out of the blocked time, can still show that it
    computed through most of them: they are computation (``cpu``). Otherwise the cause
    is unknown -- the window's CPU time covers the whole test, not the block, and a
    machine busy enough to starve the sampler also keeps the test's thread waiting in
    ways nothing measured (behind the GIL): such a block is reported as
    :data:`UNKNOWN`, not failed as a wait that nothing showed.
    """
    unexplained = [o for o in observations if _unexplained(o, shares)]
    if not unexplained:
        return
    blocked = sum(o.duration or 0.0 for o in unexplained) - run_delay
    computed = blocked <= 0 or cpu_used >= 0.5 * blocked
    for obs in unexplained:
        if computed:
            obs.cpu = True
            if obs.callee is not None:
                obs.detail = COMPUTED
            continue
        unsampled = f"; {UNSAMPLED}" if UNSAMPLED in obs.detail else ""
        obs.cpu, obs.detail = False, UNKNOWN + unsampled


UNKNOWN = ("unknown: no CPU-time reading covers it (the sampler thread was kept off the "
           "CPU), so nothing shows whether it computed or waited")
"""The detail of a block reported as neither a wait nor computation (not failed)."""

_ATTRIBUTION: list[Attribution] = []


def _attribution() -> Attribution:
    """One Attribution for the session: reading installed distributions costs ~0.1 s."""
    if not _ATTRIBUTION:
        _ATTRIBUTION.append(Attribution())
    return _ATTRIBUTION[0]


def describe_block(session: Session, stack: Any, callee: Any, lasted: float) -> Finding:
    """A block still going on, as a finding (for the live warning; any thread)."""
    from ..audit.detectors import Observation

    obs = Observation("blocking", stack, lasted, callee,
                      detail="" if callee is not None else "still blocked; no callee seen")
    context = advice.Context(patchers=frozenset(spec.name for spec in _registry().ordered()))
    return aggregate([obs], _attribution(), context, origin=session.started)[0]


def _registry() -> Any:
    import patchkit

    return patchkit.registry()


def open_window(session: Session, cut: bool = True) -> Window:
    """Start a window now; what blocked before this call is not in it.

    Args:
        cut: Close the current stretch first; ``False`` right after :meth:`Window.findings`,
            which just did.
    """
    if cut:
        _cut()  # then a run-delay reading, at the start of the stretch that begins: a
        # test's blocks have a reading at their start (one from before the switch could
        # count a busy machine's delay inside the switch as the block's)
    return Window(session, session.mark(reading=cut))


def test_site(item: Any) -> FrameInfo:
    """Where a pytest item's test function is defined (its location for other items)."""
    code = getattr(getattr(item, "function", None), "__code__", None)
    if code is not None:
        module = getattr(getattr(item, "module", None), "__name__", None)
        return FrameInfo(code.co_filename, code.co_firstlineno, code.co_qualname, module)
    path, line, name = item.location
    return FrameInfo(os.path.join(str(item.config.rootpath), path), (line or 0) + 1, name)
