"""Raw observations -> Findings: one per call site, aggregated, attributed, with a fix.

Everything here works on data after the target finished: it joins the switch
clock's timed blocks with the sampler's stacks (and with audit events of the same
call), picks the call site (the innermost frame of the app or of a third-party
package, skipping the stdlib and the patching machinery), names the distribution,
and aggregates per site into count / total / max seconds.
"""

from __future__ import annotations

import os
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Iterable

from ..model import EVENTS_PER_FINDING, Finding, HubBlock, StackFrame
from . import advice
from .detectors import Observation
from .detectors.imports import Attribution
from .detectors.sampler import NO_FRAME, UNSEEN, HubCallback, Sample, dominant_callee
from .detectors.switches import RawBlock
from .frames import Callee, FrameInfo, Stack
from .sites import Site, find_site
from .startup import as_start_up

STDLIB = "stdlib"
"""``Finding.package`` of a site in the standard library's own code."""

__all__ = ["Site", "find_site", "held_the_hub",
           "computed", "blocks_to_observations", "callback_observations",
           "merge_events", "aggregate", "UNSAMPLED", "COMPUTED", "WAITED", "IN_GEVENT",
           "WAIT_SHARE"]


def _site_key(sample: Sample, attribution: Attribution) -> tuple[str, int] | None:
    frame = find_site(sample.stack, attribution).frame
    return (frame.file, frame.line) if frame is not None else None


FRAMELESS = ("a greenlet that runs a C function with no Python frame (gevent.spawn of a "
             "builtin or a C extension's function) held the hub; run the audit with --exact "
             "to find where it was spawned")
"""The detail of a turn part timed by loop turn whose samples found no Python frame."""
UNSEEN_DETAIL = ("no sample was taken while it lasted: a call that held the GIL throughout "
                 "(a C extension's, ctypes.PyDLL) and then yielded; run the audit with "
                 "--exact to find where")
"""The detail of a turn part timed by loop turn that no sample saw at all."""
UNSAMPLED = "yielded here after the block (no stack was sampled while it lasted)"
"""The detail of a timed block nobody sampled: its stack is where the greenlet yielded
*after* the block (a call that held the GIL, or a sampler thread the OS kept waiting)."""


COMPUTED = ("its thread computed (or was queued for a CPU) through most of it, by its CPU "
            "time: not a wait")
"""The detail of a block its thread's CPU time shows was computation (Python or C)."""

WAITED = "its thread waited, by its CPU time (neither computing nor queued for a CPU)"
"""The detail of a block with no callee that its thread's CPU time shows was a wait."""

IN_GEVENT = ("in gevent's own cooperative code, on its way to the hub: the thread was kept "
             "from running (another thread holding the GIL, or the OS), not waiting on I/O")
"""The detail of a block sampled only inside gevent's own cooperative code (a sleep, a
wait switching to the hub) with no original callee: nothing the test's code waited in."""

WAIT_SHARE = 0.5
"""A block is a wait when its thread waited (neither computed nor was queued for a CPU)
for at least this share of it, or for longer than the threshold in all."""


def computed(block: RawBlock, threshold: float,
             waits: dict[float, float] | None) -> bool | None:
    """Whether *block* was its thread computing (Python or a C function such as TLS
    parsing a CA bundle) rather than waiting, from its CPU time and run-queue delay
    over the block (*waits*: :meth:`RunDelay.waited`); None if unknown.

    Computing: it waited (I/O, sleep, a lock) for less than :data:`WAIT_SHARE` of the
    block and for less than *threshold* in all; the rest it ran, or the OS kept it
    queued for a CPU (a busy machine: not the code's wait).
    """
    waited = (waits or {}).get(block.start)
    if waited is None:
        return None
    return waited < WAIT_SHARE * block.duration and waited <= threshold


def held_the_hub(block: RawBlock, threshold: float,
                 run_delays: dict[float, float] | None = None) -> bool:
    """Whether *block* held the hub past *threshold* once the auditor's own time and the
    time the OS kept the thread waiting for a CPU (*run_delays*) are taken out."""
    return block.duration - (run_delays or {}).get(block.start, 0.0) > threshold


def blocks_to_observations(blocks: Iterable[RawBlock], samples: dict[float, list[Sample]],
                           threshold: float, attribution: Attribution,
                           originals: frozenset[int] = frozenset(),
                           run_delays: dict[float, float] | None = None,
                           waits: dict[float, float] | None = None) -> list[Observation]:
    """Give each timed block the stack sampled while it was blocked.

    The block goes to the site seen in most samples (the first such sample's stack);
    with no sample (a GIL-holding call, too short to sample) it keeps the place where
    the greenlet yielded afterwards. Blocks below *threshold* once the auditor's own
    time is taken out, blocks that were mostly the OS not running the thread
    (*run_delays*, see ``detectors.schedstat``), and open stretches nobody sampled,
    are dropped.

    Where the thread's CPU time over a block is known (*waits*), it decides
    whether the block computed (``cpu=True``, detail :data:`COMPUTED`; a sampled C
    callee stays named) or waited, whatever the samples suggested.
    """
    out = []
    for block in blocks:
        taken = samples.get(block.start, [])
        if not held_the_hub(block, threshold, run_delays) or not (
                taken or block.switch_out or block.runner in (NO_FRAME, UNSEEN)):
            continue
        obs = _timed_observation(block, taken, attribution, originals)
        cpu = computed(block, threshold, waits)
        if cpu is False and obs.cpu and _ran_bytecode_throughout(taken, block):
            cpu = True  # the CPU-time reading is off (a starved sampler); the samples are not
        if cpu is not None and not obs.detail.startswith(("spawned here", FRAMELESS,
                                                           UNSEEN_DETAIL)):
            obs.cpu = cpu
            if cpu:
                obs.detail = COMPUTED if obs.detail != UNSAMPLED else f"{COMPUTED}; {UNSAMPLED}"
            elif obs.callee is None:
                obs.detail = WAITED if obs.detail != UNSAMPLED else f"{WAITED}; {UNSAMPLED}"
        if taken and not obs.cpu and _in_gevent_only(obs):
            obs.cpu, obs.detail = True, IN_GEVENT
        out.append(obs)
    return out


def _ran_bytecode_throughout(taken: list[Sample], block: RawBlock) -> bool:
    """Samples that found the thread holding the GIL in bytecode from early to late in
    the block: it computed in Python throughout. (A call that holds the GIL while it
    waits lets no sample in until it returns, so its samples cluster at the end.)"""
    busy = [s.at for s in taken if s.cpu and s.callee is None]
    return len(busy) >= 2 and max(busy) - min(busy) >= 0.5 * (block.end - block.start)


def _in_gevent_only(obs: Observation) -> bool:
    """Sampled inside gevent's own code, or calling one of gevent's functions, with no
    other callee, from code that is not patchkit's (whose cut at a test's end is a gevent
    sleep that a GIL-holding call just before it would otherwise hide behind)."""
    stack = obs.stack
    callee = obs.callee
    in_gevent = bool(stack) and (stack[-1].module or "").startswith("gevent.")
    gevent_callee = callee is not None and (callee.home or "").startswith("gevent")
    if not stack or not (in_gevent or gevent_callee):
        return False
    if callee is not None and (callee.original or callee.original_class or not gevent_callee):
        return False
    callers = [f for f in stack if not (f.module or "").startswith("gevent")]
    return not callers or not (callers[-1].module or "").startswith("patchkit")


def _timed_observation(block: RawBlock, taken: list[Sample], attribution: Attribution,
                       originals: frozenset[int]) -> Observation:
    """The observation of one timed block from its samples, or from where it yielded.

    A C function that computes with the GIL released is sampled as its callee (the
    sampler was on time); samples taken while the thread held the GIL name no callee:
    the sampler only gets the GIL where bytecode lets it go, which is no evidence of
    what the thread was doing.
    """
    duration = block.duration
    if taken:
        counts = Counter(_site_key(s, attribution) for s in taken)
        best = counts.most_common(1)[0][0]
        at_site = [s for s in taken if _site_key(s, attribution) == best]
        callee = dominant_callee([None if s.cpu else s.callee for s in at_site])
        return Observation("blocking", at_site[0].stack, duration, callee,
                           cpu=callee is None, stretch=block.key, started=block.start)
    if block.runner in (NO_FRAME, UNSEEN):
        return Observation("blocking", (), duration, stretch=block.key, started=block.start,
                           detail=FRAMELESS if block.runner == NO_FRAME else UNSEEN_DETAIL)
    if block.runner is not None:
        return Observation("blocking", block.switch_out, duration,
                           _runner_callee(block.runner, originals),
                           detail="spawned here; it ran a function with no Python frame",
                           stretch=block.key, started=block.start)
    return Observation("blocking", block.switch_out, duration, detail=UNSAMPLED,
                       stretch=block.key, started=block.start)


def callback_observations(callbacks: Iterable[HubCallback],
                          threshold: float) -> list[Observation]:
    """Blocks inside hub callbacks (``link`` callbacks, watchers), timed from samples."""
    return [Observation("blocking", cb.stack, cb.end - cb.start, cb.callee,
                        detail="in a hub callback; duration from samples",
                        cpu=cb.callee is None, stretch=cb.start)
            for cb in callbacks if cb.end - cb.start - cb.run_delay > threshold]


def _runner_callee(runner: Any, originals: frozenset[int]) -> Callee | None:
    if runner == "?":
        return None
    module = getattr(runner, "__module__", None)
    name = getattr(runner, "__qualname__", None) or repr(runner)
    label = f"{module}.{name}" if isinstance(module, str) else name
    return Callee(label, module if isinstance(module, str) else None, id(runner) in originals)


def merge_events(timed: list[Observation], events: list[Observation],
                 attribution: Attribution) -> list[Observation]:
    """Join audit-event sightings with the timed block of the same call.

    An event in the same stretch and at the same site as a timed block is that
    block's cause: the block takes the event's callee and the event is not counted
    again. Other events stay, untimed.
    """
    by_key = {(o.stretch, find_site(o.stack, attribution).frame): o for o in timed}
    rest = []
    for event in events:
        block = by_key.get((event.stretch, find_site(event.stack, attribution).frame))
        if block is None:
            rest.append(event)
        else:
            block.callee, block.detail, block.cpu = event.callee, event.detail, False
    return timed + rest


def _trim(stack: Stack, attribution: Attribution) -> list[StackFrame]:
    frames = list(stack)
    while frames and attribution.classify(frames[0])[0] == "engine":
        frames.pop(0)
    return [StackFrame(_path(f.file), f.line, f.function) for f in frames]


def _path(file: str) -> str:
    return file if file.startswith("<") else os.path.abspath(file)


def _callee(obs: Observation, site: Site) -> tuple[Callee | None, Callee | None]:
    """``(what the site's line calls, what the innermost frame waited in)``.

    A callee is always one the reported line calls: when the site is not the innermost
    frame (an app line calling ``lzma.compress``, which waits in a C method), the line's
    callee is the frame it called, and the C callee is kept as the inner one.
    """
    called = site.called
    line_callee = None
    if called is not None:
        line_callee = Callee(f"{called.module}.{called.function}" if called.module
                             else called.function, called.module)
    if obs.callee is None:
        return line_callee, None
    if line_callee is None or obs.site is not None or obs.detail.startswith("spawned") \
            or not obs.stack or obs.stack[-1] == site.frame:
        return obs.callee, None  # a spawned function's stack is where it was spawned
    return line_callee, obs.callee


@dataclass
class _Group:
    first: Observation
    site: Site
    callee: Callee | None
    inner: Callee | None = None
    count: int = 0
    total: float = 0.0
    longest: float = -1.0
    stack: Stack = ()
    cpu_votes: list[bool] = field(default_factory=list)
    events: list[HubBlock] = field(default_factory=list)


def aggregate(observations: Iterable[Observation], attribution: Attribution,
              context: advice.Context, origin: float = 0.0) -> list[Finding]:
    """One Finding per (kind, site, callee, stale binding), sorted by total time.

    Timed blocks keep their start relative to *origin* (the run's perf_counter start)
    in ``Finding.events``.
    """
    groups: dict[tuple[Any, ...], _Group] = {}
    for obs in observations:
        obs = as_start_up(obs, attribution)
        site = Site(obs.site, attribution.classify(obs.site)[1]) if obs.site else \
            find_site(obs.stack, attribution)
        callee, inner = _callee(obs, site)
        frame = site.frame
        label = obs.detail.partition(" ")[0] if obs.kind == "misbehavior" else None
        key = (obs.kind, frame and (frame.file, frame.line, frame.function),
               callee and callee.name, obs.module, obs.name, label)
        group = groups.setdefault(key, _Group(obs, site, callee, inner))
        group.count += 1
        group.total += obs.duration or 0.0
        group.cpu_votes.append(obs.cpu)
        began = obs.started if obs.started is not None else obs.stretch
        if obs.duration is not None and began is not None:
            group.events.append(HubBlock(began - origin, obs.duration))
        if (obs.duration or 0.0) > group.longest:
            group.longest, group.stack = obs.duration or 0.0, obs.stack
    findings = [_finding(g, attribution, context) for g in groups.values()]
    findings.sort(key=lambda f: (-f.total_s, -f.count, f.kind, f.file or "", f.line or 0))
    return findings


def _finding(group: _Group, attribution: Attribution, context: advice.Context) -> Finding:
    obs, site, callee = group.first, group.site, group.callee
    package = site.package
    if package is None and callee is not None and callee.home:
        package = attribution.module_distribution(callee.home)
    frame = site.frame
    if package is None and frame is not None:
        package = _owner(frame, attribution)
    cpu = sum(group.cpu_votes) * 2 > len(group.cpu_votes)
    message, fix = advice.advise(obs, callee, package, cpu, frame, context, group.inner)
    return Finding(
        kind=obs.kind, file=_path(frame.file) if frame else None,
        line=frame.line or None if frame else None,
        function=frame.function if frame else None, package=package,
        callee=callee.name if callee else None, count=group.count, total_s=group.total,
        max_s=max(group.longest, 0.0), module=obs.module, name=obs.name,
        original=obs.original, stack=_trim(group.stack, attribution),
        message=message, fix=fix, events=_kept(group.events),
        events_omitted=max(len(group.events) - EVENTS_PER_FINDING, 0))


def _owner(frame: FrameInfo, attribution: Attribution) -> str | None:
    """``"stdlib"`` for the standard library's code, gevent's (or patchkit's) top-level
    name for theirs, None for the program's own: only the program's code is "your code"."""
    origin, _ = attribution.classify(frame)
    if origin == "stdlib":
        return STDLIB
    if origin == "engine":
        top = (frame.module or "").partition(".")[0]
        return top if top and top != "__main__" else None
    return None


def _kept(events: list[HubBlock]) -> list[HubBlock]:
    longest = sorted(events, key=lambda e: -e.duration_s)[:EVENTS_PER_FINDING]
    return sorted(longest, key=lambda e: e.start_s)
