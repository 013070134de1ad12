"""Keeping the auditor from reporting its own work.

A ContextVar marks code the auditor runs on the audited thread (scans, report
writing); greenlets each get their own context, so the mark never leaks into the
target's greenlets. Each guarded stretch on the hub's thread is also timed, so the
switch clock can take the auditor's own time out of a hub-block duration.
"""

from __future__ import annotations

import contextlib
import threading
import time
from contextvars import ContextVar
from typing import Iterator

__all__ = ["auditor_work", "in_auditor_work", "AuditorTime"]

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
