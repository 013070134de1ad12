"""Keeping the auditor from reporting its own work.

A ContextVar marks code the auditor runs on the audited thread (scans, report
writing); greenlets each get their own context, so the mark never leaks into the
target's greenlets. Each guarded stretch on the hub's thread is also timed, so the
switch clock can take the auditor's own time out of a hub-block duration.

Some of the auditor's code runs inside the program's own calls instead: an audit hook
runs within the C function that raised its event (``time.sleep`` from 3.13), before
that function blocks. Such code is registered as an entry (:func:`auditor_entry`), and
a look at the hub's thread that finds it running sees the program's frame that called
the C function instead (:func:`program_frame`), so the auditor's frames never become a
call site, a callee or part of a stack.
"""

from __future__ import annotations

import contextlib
import threading
import time
import types
from contextvars import ContextVar
from typing import Iterator

__all__ = ["auditor_work", "in_auditor_work", "AuditorTime", "auditor_entry", "program_frame"]

_ACTIVE: ContextVar[bool] = ContextVar("patchkit_audit_active", default=False)


def in_auditor_work() -> bool:
    """Whether the calling context is running the auditor's own code."""
    return _ACTIVE.get()


class AuditorTime:
    """Intervals (perf_counter start, end) the auditor spent on the hub's thread."""

    def __init__(self) -> None:
        self.intervals: list[tuple[float, float]] = []

    def overlap(self, start: float, end: float) -> float:
        """Seconds of auditor work inside ``[start, end]``."""
        total = 0.0
        for a, b in self.intervals:
            if b > start and a < end:
                total += min(b, end) - max(a, start)
        return total


AUDITOR_TIME = AuditorTime()


@contextlib.contextmanager
def auditor_work() -> Iterator[None]:
    """Mark the enclosed code as the auditor's: ignored by detectors, and its time
    discounted from hub blocks when it ran on the hub's thread (the main thread's: the
    one audited). Work on another thread (a periodic flush) overlaps a block without
    being part of it."""
    token = _ACTIVE.set(True)
    start = time.perf_counter()
    try:
        yield
    finally:
        if threading.get_native_id() == threading.main_thread().native_id:
            AUDITOR_TIME.intervals.append((start, time.perf_counter()))
        _ACTIVE.reset(token)


# id(code) -> code: the code objects are kept alive here, so their ids stay theirs.
_ENTRIES: dict[int, types.CodeType] = {}


def auditor_entry(code: types.CodeType) -> None:
    """Register *code* (an audit hook's) as a way into the auditor's own code from inside
    a call the program made; see :func:`program_frame`."""
    _ENTRIES[id(code)] = code


def program_frame(frame: types.FrameType) -> types.FrameType | None:
    """The frame to take as where *frame*'s thread is: *frame* itself, unless the
    auditor's code is running on it (a registered entry is on its stack), in which case
    the frame that entered the auditor -- the program's, calling the C function that
    raised the event -- or None when that C function has no Python caller (a greenlet
    spawned on it directly).

    The outermost entry counts: the hook's own work can raise further events.
    """
    entry = None
    current: types.FrameType | None = frame
    while current is not None:
        if id(current.f_code) in _ENTRIES:
            entry = current
        current = current.f_back
    return frame if entry is None else entry.f_back
