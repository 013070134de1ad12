"""Hub blocks timed by loop turn: two libev watchers per loop iteration, no tracer per switch.

A ``check`` watcher (highest priority: the first callback after the loop's poll
returns) stamps when a loop turn starts, and a ``prepare`` watcher (lowest priority,
after gevent's own prepare, which runs spawned greenlets and wake-ups: the last thing
before the next poll) stamps when it ends. A turn is the time the hub's thread ran
greenlets and callbacks between two polls; a turn longer than the threshold held every
other greenlet. The cost follows loop iterations (hundreds a second on a busy server),
where a ``greenlet.settrace`` tracer follows switches (a hundred thousand a second):
the two callbacks only read the clock, compare and append.

Which greenlet held the turn is the sampler's part (see ``sampler``): it looks at the hub
at least every half threshold, and from half the threshold on copies the stack every
2 ms, each sample naming its greenlet (the stack's bottom frame); a look that lands
earlier notes the greenlet alone. When the turn ends,
:meth:`TurnClock.settle` splits it among the greenlets the samples saw
(:func:`segments`) and files a block for each part over the threshold. A turn of one
greenlet is timed exactly; the parts of a turn of several are placed to within a
sampling period, except that the first part can include greenlets that ran before
sampling began (under half the threshold).
``--exact`` keeps the switch tracer (``switches``) for per-switch timing.
"""

from __future__ import annotations

import math
import time
import types
from collections import deque
from dataclasses import replace
from typing import TYPE_CHECKING, Any, Callable, Sequence

from .switches import RawBlock

from .sampler import HUB_LOOP, NO_FRAME, UNSEEN

if TYPE_CHECKING:
    from .sampler import Sample

__all__ = ["TURN_PERIOD", "TurnClock", "segments", "on_hub", "is_greenlet"]

_MAX_PENDING = 1_000  # long turns waiting to be settled
_KEPT = 64  # samples kept per block
TURN_PERIOD = 0.002  # seconds between samples of an overdue turn: the parts' precision


def is_greenlet(owner: object) -> bool:
    """Whether a sample's owner is a greenlet (its bottom frame), not the hub's own work
    (a callback's code, or the loop itself)."""
    return isinstance(owner, types.FrameType)


def _in_greenlet(owner: object) -> bool:
    return owner == NO_FRAME or is_greenlet(owner)


def on_hub(install: Callable[[Any], None], thread_ident: Callable[[], int]) -> Callable[[], None]:
    """Run ``install(hub)`` with this thread's hub: now if it exists, else as soon as it is
    created on this thread (``Hub.__init__`` wrapped until then).

    Returns:
        An undo for the wrapping; idempotent, and harmless once the hub was created.
    """
    from gevent._hub_local import get_hub_if_exists
    from gevent.hub import Hub

    hub = get_hub_if_exists()
    if hub is not None:
        install(hub)
        return lambda: None
    ident = thread_ident()
    original = Hub.__dict__["__init__"]
    pending = [True]

    def __init__(hub: Any, *args: Any, **kwargs: Any) -> None:
        original(hub, *args, **kwargs)
        if pending[0] and thread_ident() == ident:
            pending[0] = False
            try:
                install(hub)
            except Exception:  # never break the program's hub for the auditor's sake
                pass

    Hub.__init__ = __init__

    def undo() -> None:
        pending[0] = False
        if Hub.__dict__.get("__init__") is __init__:
            Hub.__init__ = original

    return undo


Segment = tuple[float, float, "Sample | None", "list[Sample]"]


def segments(start: float, end: float, samples: Sequence[Sample],
             period: float = 0.002) -> list[Segment]:
    """Split the turn ``[start, end]`` among the owners the samples saw, in order.

    Consecutive samples of one owner are one segment, and the segments cover the turn
    exactly. A boundary lies halfway between the last sample of one and the first of the
    next -- except next to CPU work: an owner holding the GIL delays the sample after it
    starts (the sampler waits for the GIL), so when only the later one computed, it began
    soon after the earlier one's last sample, and when only the earlier one computed, it
    ran until shortly before the later one's first. The hub's loop itself between two
    greenlets or callbacks takes microseconds, so next to a sample of it (:data:`HUB_LOOP`)
    the other side reaches almost to that sample. With no sample (a call that held the GIL for the whole turn),
    the turn is one segment with no sample.

    Returns:
        ``(start, end, representative sample or None, the segment's samples)`` each.
    """
    if not samples:
        return [(start, end, None, [])]
    groups: list[list[Sample]] = []
    for sample in samples:
        if groups and groups[-1][-1].owner is sample.owner:
            groups[-1].append(sample)
        else:
            groups.append([sample])
    cuts = [_boundary(a[-1], b[0], period) for a, b in zip(groups, groups[1:])]
    edges = [start, *cuts, end]
    return [(edges[i], edges[i + 1], _representative(group), group)
            for i, group in enumerate(groups)]


def _boundary(last: Sample, first: Sample, period: float) -> float:
    middle = (last.at + first.at) / 2
    if first.owner == HUB_LOOP and last.owner != HUB_LOOP:
        return max(middle, first.at - period / 10)
    if last.owner == HUB_LOOP and first.owner != HUB_LOOP:
        return min(middle, last.at + period / 10)
    if first.held and not last.held:
        return min(middle, last.at + period / 2)
    if last.held and not first.held:
        return max(middle, first.at - period / 2)
    return middle


def _representative(group: list[Sample]) -> Sample:
    """The sample whose site was seen most (a CPU loop passes through several lines)."""
    def key(sample: Sample) -> tuple[Any, ...]:
        top = sample.stack[-1] if sample.stack else None
        return (top.file, top.line) if top else ()

    counts: dict[tuple[Any, ...], int] = {}
    for sample in group:
        counts[key(sample)] = counts.get(key(sample), 0) + 1
    best = max(counts, key=lambda k: counts[k])
    return next(s for s in group if key(s) == best)


class TurnClock:
    """Times the hub loop's turns on the thread that starts it; see the module docstring.

    Offers what the sampler and the audit-event detector ask of a clock: ``blocks``
    (filled by :meth:`settle`) and ``stretch_start`` (here, the current turn's start).
    The monitor takes the long turns from :attr:`closed` (``(start, end)`` pairs, oldest
    first) itself, with its own samples.

    Args:
        threshold: Minimum block, in seconds.
        period: The sampler's period while a turn is overdue (for the boundaries).
    """

    exact = False

    def __init__(self, threshold: float, period: float) -> None:
        self.threshold = threshold
        self.period = period
        self.blocks: list[RawBlock] = []
        self._turn = math.inf
        self.closed: deque[tuple[float, float]] = deque(maxlen=_MAX_PENDING)
        self._watchers: tuple[Any, Any] | None = None
        self._undo: Callable[[], None] = lambda: None
        self.active = False

    def start(self) -> None:
        """Install the watchers on this thread's hub, now or when it is created."""
        from ..._threads import original_thread_api

        self.active = True
        self._undo = on_hub(self._install, original_thread_api()[2])

    def _install(self, hub: Any) -> None:
        if not self.active:
            return
        loop = hub.loop
        check = loop.check(ref=False, priority=2)  # EV_MAXPRI: first after the poll
        prepare = loop.prepare(ref=False, priority=-2)  # EV_MINPRI: last before it
        check.start(self.begin_turn)
        prepare.start(self.end_turn)
        self._watchers = (check, prepare)
        if hub:  # the loop runs: this greenlet is inside a turn
            self._turn = time.perf_counter()
        else:  # the first turn is the callbacks of the loop's first prepare
            loop.run_callback(self.begin_turn)

    def begin_turn(self) -> None:
        """The ``check`` watcher's callback: a loop turn starts."""
        self._turn = time.perf_counter()

    def end_turn(self) -> None:
        """The ``prepare`` watcher's callback: the turn ends; one over the threshold is
        kept in :attr:`closed`."""
        now = time.perf_counter()
        start, self._turn = self._turn, math.inf
        if now - start > self.threshold:
            self.closed.append((start, now))

    def stretch_start(self) -> float:
        """When the current turn began (``inf`` while the loop polls); any thread."""
        return self._turn

    def forget(self) -> None:
        """Drop the open turn and the long ones not yet taken (in a forked child, whose
        watchers go on: the parent's turns are not its own)."""
        self._turn = math.inf
        self.closed.clear()

    def settle(self, samples: dict[float, list[Sample]]) -> None:
        """File the long turns that ended as blocks, one per greenlet part over the
        threshold; their samples are re-keyed by the part's start and lose their owner
        (frames are not kept past their turn). Parts held by the hub's own work are left
        to the sampler's hub-callback records.
        """
        while self.closed:
            start, end = self.closed.popleft()
            taken = samples.pop(start, [])
            for part_start, part_end, _, group in segments(start, end, taken, self.period):
                owner = group[0].owner if group else None
                if part_end - part_start <= self.threshold or not (
                        owner is None or _in_greenlet(owner)):
                    continue
                kept = [replace(s, owner=None) for s in group if s.stack]
                if len(kept) > _KEPT:  # the run's first ones and its last
                    kept[_KEPT - 1:] = kept[-1:]
                runner = NO_FRAME if owner == NO_FRAME else None if group else UNSEEN
                self.blocks.append(RawBlock(part_start, part_end,
                                            kept[-1].stack if kept else (), runner, start))
                if kept:
                    samples[part_start] = kept

    def stop(self) -> None:
        """Remove the watchers; idempotent. On the hub's thread.

        A turn still open and over the threshold (the program ended inside it) ends now.
        """
        self.active = False
        self._undo()
        self.end_turn()
        watchers, self._watchers = self._watchers, None
        for watcher in watchers or ():
            try:
                watcher.stop()
                watcher.close()
            except Exception:  # the loop may be destroyed already
                pass
