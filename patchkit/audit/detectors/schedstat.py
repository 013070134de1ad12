"""Telling a hub block from the OS not running the process (Linux schedstat).

On a loaded machine the kernel can leave the hub's thread runnable but off the
CPU for tens of milliseconds; switch timing sees a long stretch that no code of
the program caused. Linux counts that waiting per thread (``run_delay`` in
``/proc/self/task/<tid>/schedstat``). The sampler thread reads it every tick
(one ``pread``, under a microsecond) into a short ring; once a block has ended,
the run delay inside it is bounded from the ring, and a block that is mostly
waiting for a CPU is not reported. Elsewhere (no schedstat) nothing is filtered.

The same line's first field is the time the thread spent *on* a CPU. Over a block,
that tells computing (Python or C: TLS parsing a CA bundle, ``hashlib.pbkdf2_hmac``)
from waiting (a socket, a sleep, a lock), whatever the sampled stack shows:
:meth:`RunDelay.waited`.
"""

from __future__ import annotations

import bisect
import os

__all__ = ["RunDelay", "SLACK"]

SLACK = 0.001
_TRIM = 256


class RunDelay:
    """Run-queue delay of one thread, sampled over time.

    Args:
        native_id: The thread's kernel id (``threading.get_native_id()``).
    """

    def __init__(self, native_id: int) -> None:
        self._times: list[float] = []
        self._delays: list[float] = []
        self._cpu: list[float] = []
        try:
            self._fd: int | None = os.open(f"/proc/self/task/{native_id}/schedstat", os.O_RDONLY)
        except OSError:
            self._fd = None

    @property
    def available(self) -> bool:
        """Whether the kernel reports run delay for the thread."""
        return self._fd is not None

    def read(self) -> float | None:
        """The thread's total run delay so far, in seconds (None if unavailable)."""
        both = self.read_both()
        return both[1] if both is not None else None

    def read_both(self) -> tuple[float, float] | None:
        """``(seconds on a CPU, seconds runnable but waiting for one)`` so far, or None."""
        if self._fd is None:
            return None
        try:
            fields = os.pread(self._fd, 128, 0).split()
            return int(fields[0]) / 1e9, int(fields[1]) / 1e9
        except (OSError, IndexError, ValueError):
            self.close()
            return None

    def tick(self, now: float, keep_since: float) -> None:
        """Record the thread's run delay at *now*; forget entries before *keep_since*
        (except the last one before it, which bounds a stretch that began then)."""
        both = self.read_both()
        if both is None:
            return
        self._times.append(now)
        self._cpu.append(both[0])
        self._delays.append(both[1])
        cut = bisect.bisect_left(self._times, keep_since) - 1
        if cut >= _TRIM:  # in batches: deleting from the front moves the whole list
            del self._times[:cut]
            del self._delays[:cut]
            del self._cpu[:cut]

    def within(self, start: float, end: float) -> float | None:
        """The run delay inside ``[start, end]``, or None if unknown.

        From the last reading before *start* to the first after *end* -- an upper bound
        -- except that a reading up to :data:`SLACK` inside the interval counts as its
        edge: the estimate can then miss at most that much at each end, and a reading
        taken just after a switch (the pytest plugin's) bounds the stretch it began.
        """
        first = bisect.bisect_right(self._times, start + SLACK) - 1
        last = bisect.bisect_left(self._times, end - SLACK)
        if first < 0 or last >= len(self._times):
            return None
        return self._delays[last] - self._delays[first]

    def waited(self, start: float, end: float) -> float | None:
        """Seconds of ``[start, end]`` the thread at least spent waiting -- neither on a
        CPU nor runnable and queued for one (I/O, a sleep, a lock) -- or None.

        From the pair of readings that times the block best: each end is the reading
        just inside or just outside the interval, whichever pair covers at least half of
        it with the least time outside it. What the pair saw outside the interval may all
        have been waiting (a hub idle in its loop just before the block): it is taken off,
        so this is a lower bound. None when no pair covers half the block with at most
        half its length outside it: too few readings (a starved sampler) to tell.
        """
        times, length = self._times, end - start
        inside_lo = bisect.bisect_left(times, start)
        inside_hi = bisect.bisect_right(times, end) - 1
        best: tuple[float, int, int] | None = None
        for first in {inside_lo, inside_lo - 1}:
            for last in {inside_hi, inside_hi + 1}:
                if not 0 <= first < last < len(times):
                    continue
                covered = min(times[last], end) - max(times[first], start)
                outside = max(0.0, start - times[first]) + max(0.0, times[last] - end)
                if covered >= 0.5 * length and outside <= 0.5 * length + 2 * SLACK and (
                        best is None or outside < best[0]):
                    best = (outside, first, last)
        if best is None:
            return None
        outside, first, last = best
        span = times[last] - times[first]
        busy = (self._cpu[last] - self._cpu[first]) + (self._delays[last] - self._delays[first])
        return min(max(span - busy - outside, 0.0), length)

    def close(self) -> None:
        """Release the file; idempotent."""
        if self._fd is not None:
            fd, self._fd = self._fd, None
            try:
                os.close(fd)
            except OSError:  # closed already: gevent's subprocess closes every fd before exec
                pass
