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
import ctypes
import os
from typing import Callable

__all__ = ["RunDelay", "SLACK"]


def _gil_holding_pread() -> Callable[[int], bytes]:
    """``pread(fd, 128, 0)`` through libc called with the GIL held (ctypes ``PyDLL``).

    ``os.pread`` releases the GIL around the syscall, as every I/O call does; for the
    sampler, reading /proc (under a microsecond) that way costs two GIL hand-overs with
    a hub that wants it back: a busy hub drops it to the sampler again, after up to the
    5 ms switch interval, for each read. Holding the GIL through the read costs nothing.
    """
    try:
        libc = ctypes.PyDLL(None)
        pread = libc.pread
        pread.argtypes = [ctypes.c_int, ctypes.c_void_p, ctypes.c_size_t, ctypes.c_long]
        pread.restype = ctypes.c_ssize_t
    except (OSError, AttributeError):
        return lambda fd: os.pread(fd, 128, 0)

    def read(fd: int) -> bytes:
        buffer = ctypes.create_string_buffer(128)  # one per call: any thread may read
        count = pread(fd, buffer, 128, 0)
        if count < 0:
            raise OSError(ctypes.get_errno(), "pread")
        return buffer.raw[:count]

    return read


_pread = _gil_holding_pread()

SLACK = 0.001
_TRIM = 256
_OWED_READINGS = 4  # later readings that may still bring a pending run delay in


class RunDelay:
    """Run-queue delay and CPU time of one thread, sampled over time.

    Readings are kept in one list of ``(time, cpu, delay)`` tuples: a thread that asks
    about a block (the pytest plugin, on the hub's thread) takes a copy while the
    sampler thread records and trims, and a list copies in one step under the GIL.

    Args:
        native_id: The thread's kernel id (``threading.get_native_id()``).
    """

    def __init__(self, native_id: int) -> None:
        self._readings: list[tuple[float, float, float]] = []
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
            fields = _pread(self._fd).split()
            return int(fields[0]) / 1e9, int(fields[1]) / 1e9
        except (OSError, IndexError, ValueError):
            self.close()
            return None

    def tick(self, now: float, keep_since: float) -> None:
        """Record the thread's run delay at *now*; forget entries before *keep_since*
        (except the last one before it, which bounds a stretch that began then)."""
        both = self.read_both()
        if both is not None:
            self.record(now, both[0], both[1], keep_since)

    def record(self, now: float, cpu: float, delay: float, keep_since: float = 0.0) -> None:
        """Add one reading: at *now*, *cpu* seconds on a CPU and *delay* seconds queued
        for one so far (what :meth:`tick` reads)."""
        readings = self._readings
        readings.append((now, cpu, delay))
        if len(readings) > _TRIM and readings[_TRIM][0] < keep_since:
            # In batches: deleting from the front moves the whole list.
            cut = bisect.bisect_left(readings, keep_since, key=_time) - 1
            del readings[:cut]

    def within(self, start: float, end: float) -> float | None:
        """The run delay inside ``[start, end]``, or None if unknown: a lower bound.

        The readings that bracket it -- the last before *start* and the first after *end*,
        a reading up to :data:`SLACK` inside counting as an edge (a reading taken just
        after a switch, the pytest plugin's, bounds the stretch it began) -- count the
        delay over a longer stretch; the delay outside the block is at most the time
        outside it, which is taken off. A starved sampler's readings can lie far outside
        a block (the last one before a block at a program's start may come before its
        imports, whose run delay on a loaded machine is hundreds of ms): counted whole,
        that took a real block's whole duration away and the block vanished. A block
        that happened is never dropped for delay that may lie outside it. Readings inside
        the block bound the delay between them from below too.
        """
        readings = self._readings[:]
        first = bisect.bisect_right(readings, start + SLACK, key=_time) - 1
        last = bisect.bisect_left(readings, end - SLACK, key=_time)
        if first < 0 or last >= len(readings):
            return None
        (began, _, before), (ended, _, after) = readings[first], readings[last]
        outside = max(0.0, start - began) + max(0.0, ended - end)
        # Two lower bounds, the better one: the bracket less what may lie outside, and the
        # delay between the first and last readings inside the block (a sampler that kept
        # reading through it counts nearly all of it so).
        inner = 0.0
        if last - first >= 3:
            inner = readings[last - 1][2] - readings[first + 1][2]
        return max(0.0, after - before - outside, inner)

    def waited(self, start: float, end: float) -> float | None:
        """Seconds of ``[start, end]`` the thread at least spent waiting -- neither on a
        CPU nor runnable and queued for one (I/O, a sleep, a lock) -- or None.

        From the pair of readings that times the block best: each end is the reading
        just inside or just outside the interval, whichever pair covers at least half of
        it with at most half its length outside it and misses the least (the part of the
        block it does not cover plus the time it spans outside). None when no pair
        qualifies: too few readings (a starved sampler) to tell. What the readings saw
        outside the interval may all have been waiting (a hub idle in its loop just
        before the block): it is taken off, so this is a lower bound.

        With readings inside the block, it is counted per interval between readings: an
        interval in which the thread ran (or queued) for at least half of it computed,
        and the gaps in it are the GIL handed to the thread taking the readings and the
        kernel's accounting lag -- over a long computation they add up to more than any
        threshold. An interval in which it mostly did not run is a wait. Busy time the
        kernel counted late (:func:`_owed`) is taken back from the waits before it.
        """
        readings, length = self._readings[:], end - start
        pair = _best_pair(readings, start, end)
        if pair is None:
            return None
        first, last = pair
        if last == first + 1:  # nothing took the GIL in between: the whole gap is a wait
            span = readings[last][0] - readings[first][0]
            busy = _busy(readings[first], readings[last]) + _owed(readings, last)
            return min(max(span - busy - _outside(readings, first, last, start, end), 0.0),
                       length)
        counted = 0.0
        for i in range(first, last):
            a, b = readings[i], readings[i + 1]
            elapsed, busy = b[0] - a[0], _busy(a, b)
            if busy > elapsed:  # late-counted busy time of the intervals before
                counted -= min(counted, busy - elapsed)
            elif busy < 0.5 * elapsed:
                counted += max(elapsed - busy - _outside(readings, i, i + 1, start, end), 0.0)
        return min(max(counted - _owed(readings, last), 0.0), length)

    def close(self) -> None:
        """Release the file; idempotent."""
        if self._fd is not None:
            fd, self._fd = self._fd, None
            try:
                os.close(fd)
            except OSError:  # closed already: gevent's subprocess closes every fd before exec
                pass


def _time(reading: tuple[float, float, float]) -> float:
    return reading[0]


def _best_pair(readings: list[tuple[float, float, float]], start: float,
               end: float) -> tuple[int, int] | None:
    """The indexes of the readings that time ``[start, end]`` best (see
    :meth:`RunDelay.waited`), or None."""
    length = end - start
    inside_lo = bisect.bisect_left(readings, start, key=_time)
    inside_hi = bisect.bisect_right(readings, end, key=_time) - 1
    best: tuple[float, int, int] | None = None
    for first in {inside_lo, inside_lo - 1}:
        for last in {inside_hi, inside_hi + 1}:
            if not 0 <= first < last < len(readings):
                continue
            covered = min(readings[last][0], end) - max(readings[first][0], start)
            outside = _outside(readings, first, last, start, end)
            missed = length - covered + outside
            if covered >= 0.5 * length and outside <= 0.5 * length + 2 * SLACK and (
                    best is None or missed < best[0]):
                best = (missed, first, last)
    return (best[1], best[2]) if best is not None else None


def _outside(readings: list[tuple[float, float, float]], first: int, last: int,
             start: float, end: float) -> float:
    """Seconds between readings *first* and *last* that lie outside ``[start, end]``."""
    return max(0.0, start - readings[first][0]) + max(0.0, readings[last][0] - end)


def _busy(a: tuple[float, float, float], b: tuple[float, float, float]) -> float:
    """Seconds on a CPU or queued for one between two readings."""
    return (b[1] - a[1]) + (b[2] - a[2])


def _owed(readings: list[tuple[float, float, float]], index: int) -> float:
    """Busy time that had passed by reading *index* but that it did not count.

    The kernel adds a thread's wait for a CPU to its run delay only once it gets one,
    and its CPU time at scheduler ticks: a reading taken by another thread (the
    sampler) while this one sits in the run queue misses that time, which then shows in
    the next readings as more busy time than time elapsed. The excess happened before.
    """
    owed = 0.0
    for i in range(index, min(index + _OWED_READINGS, len(readings) - 1)):
        excess = _busy(readings[i], readings[i + 1]) - (readings[i + 1][0] - readings[i][0])
        if excess <= 0:
            break
        owed += excess
    return owed
