"""How late the hub's loop ran: a repeating libev timer that measures its own lateness.

Several blocks back to back in one loop turn (each greenlet made ready by the same
I/O wake-up runs before the loop looks at its timers again) delay every timer,
timeout and heartbeat by their sum, which no single block shows. A timer due every
``period`` seconds notes, each time it fires, how long after its due time that was;
lateness over the threshold is a lag episode.

The cost follows loop iterations, not switches: one callback every ``period`` seconds,
on the hub. The timer holds no reference on the loop (``ref = False``), so it never
keeps a program's loop alive. It is installed on the session's thread when that
thread's hub exists, or as soon as it is created.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any

__all__ = ["LAG_THRESHOLD", "Lag", "LoopClock", "lag_finding"]

_MAX_EPISODES = 10_000

# Lateness reported as lag (or the block threshold, when higher): gevent's own idea of a
# blocked hub (its monitor's max_blocking_time). A cooperative service's turn runs every
# greenlet its poll made ready, so a busy one is routinely some tens of milliseconds late
# -- on a loaded machine even the first requests of a small client (four greenlets each
# running a few milliseconds of Python) add up to 20-40 ms. That is load, not a defect;
# blocks are still reported from the block threshold up.
LAG_THRESHOLD = 0.1


@dataclass(frozen=True, slots=True)
class Lag:
    """The loop ran a timer ``duration`` seconds after it was due at ``due`` (perf_counter)."""

    due: float
    duration: float


class LoopClock:
    """Measures the hub loop's lateness on the thread that starts it.

    Args:
        threshold: Lateness, in seconds, recorded as a lag episode.
        period: Seconds between the timer's firings.
    """

    def __init__(self, threshold: float, period: float = 0.05) -> None:
        self.threshold = threshold
        self.period = period
        self.episodes: list[Lag] = []
        self.worst = 0.0
        self._get_ident: Any = threading.get_ident
        self._ident = 0
        self._timer: Any = None
        self._due = 0.0
        self._undo: Any = None
        self._run_delay: Any = None
        self._delayed = 0.0
        self.active = False

    def start(self) -> None:
        """Install the timer on this thread's hub now, or when the hub is created."""
        from ..._threads import original_thread_api
        from .schedstat import RunDelay
        from .turns import on_hub

        # The thread's own id: once patched, threading.get_ident() names the greenlet.
        self._get_ident = original_thread_api()[2]
        self.active = True
        self._ident = self._get_ident()
        self._run_delay = RunDelay(threading.get_native_id())
        self._undo = on_hub(self._install, self._get_ident)

    def _install(self, hub: Any) -> None:
        if not self.active or self._timer is not None:
            return
        timer = hub.loop.timer(self.period, self.period)
        timer.ref = False
        self._due = time.perf_counter() + self.period
        self._delayed = self._run_delay.read() or 0.0
        timer.start(self._fired)
        self._timer = timer

    def _fired(self) -> None:
        now = time.perf_counter()
        late = now - self._due
        self._due = now + self.period
        # Time the OS kept the hub's thread off the CPU is not the program's lateness
        # (one read per period; an upper bound of the delay inside the lateness).
        delayed = self._run_delay.read() if self._run_delay is not None else None
        if delayed is not None:
            late -= delayed - self._delayed
            self._delayed = delayed
        if late > self.worst:
            self.worst = late
        if late > self.threshold and len(self.episodes) < _MAX_EPISODES:
            self.episodes.append(Lag(now - late, late))

    def stop(self) -> None:
        """Stop the timer and unwrap the hub; idempotent. On the session's thread."""
        self.active = False
        if self._run_delay is not None and self._get_ident() == self._ident:
            self._run_delay.close()
        if self._undo is not None:
            self._undo()
            self._undo = None
        timer, self._timer = self._timer, None
        # libev is not thread-safe: from another thread (the stop watchdog, while the hub's
        # thread is stuck) the timer is left to die with the process.
        if timer is not None and self._get_ident() == self._ident:
            try:
                timer.stop()
                timer.close()
            except Exception:  # the loop may be gone already (destroyed at exit)
                pass


def lag_finding(clock: LoopClock, origin: float, largest_block: float) -> Any:
    """The "loop-lag" Finding for *clock*'s episodes, or None when the loop was never later
    than the largest single block (*largest_block* seconds) already reported."""
    from ...model import EVENTS_PER_FINDING, Finding, HubBlock

    episodes = clock.episodes
    if not episodes:
        return None
    worst = max(e.duration for e in episodes)
    longest = sorted(episodes, key=lambda e: -e.duration)[:EVENTS_PER_FINDING]
    events = sorted((HubBlock(e.due - origin, e.duration) for e in longest),
                    key=lambda e: e.start_s)
    if worst <= largest_block * 1.2 + 0.002:
        return None  # no later than the largest block: that finding says it already
    why = (f"blocks back to back in one loop turn add up: the largest single block "
           f"was {largest_block * 1000:.1f} ms" if largest_block > 0 else
           "no single block reached the threshold: shorter ones in one loop turn added up")
    return Finding(
        "loop-lag", None, None, None, None, None, len(episodes),
        sum(e.duration for e in episodes), worst, None, None, None, [],
        f"the hub's loop ran timers, timeouts and heartbeats up to {worst * 1000:.1f} ms "
        f"late ({why})",
        "remove the blocks reported above: every greenlet that runs in the same loop "
        "turn adds its time to how late each timer fires", events=events,
        events_omitted=len(episodes) - len(longest))
