"""Monitor events: rate limiting per call site, summaries, and where events go.

Everything here runs on the monitor's own thread, never on the hub's. Memory is
bounded however long a process runs: at most ``_MAX_SITES`` call sites are tracked
(the least recently seen is dropped, its counts sent in the next summary first).
"""

from __future__ import annotations

import contextlib
import errno
import json
import logging
import os
import stat
import sys
import time
from collections import OrderedDict, deque
from dataclasses import dataclass, field
from typing import Any, Callable

from .settings import MonitorSettings

__all__ = ["Limiter", "Sink", "StallMeter", "open_log", "write_line"]

_MAX_SITES = 2_000
_WINDOW = 60.0  # the rate limit's window: ``rate`` events per site per minute
_ROWS_AT_ONCE = 100  # summary rows serialised in one C call (2,000 at once: ~6 ms of GIL)
_SEPARATORS = (",", ":")

logger = logging.getLogger("patchkit.monitor")


@dataclass
class _Site:
    emitted: deque[float] = field(default_factory=deque)
    count: int = 0
    held: int = 0
    total: float = 0.0
    worst: float = 0.0
    what: dict[str, Any] = field(default_factory=dict)


class Limiter:
    """At most ``rate`` events per site per minute; counts of every event for summaries."""

    def __init__(self, rate: int) -> None:
        self.rate = rate
        self.sites: OrderedDict[tuple[Any, ...], _Site] = OrderedDict()
        self.dropped: list[dict[str, Any]] = []

    def admit(self, key: tuple[Any, ...], duration: float, what: dict[str, Any],
              now: float) -> bool:
        """Count one event at *key*; whether it may be sent now."""
        site = self.sites.get(key)
        if site is None:
            if len(self.sites) >= _MAX_SITES:
                _, old = self.sites.popitem(last=False)
                if old.held:
                    self.dropped.append(_summary_row(old))
            site = self.sites[key] = _Site(what=what)
        else:
            self.sites.move_to_end(key)
        site.count += 1
        site.total += duration
        site.worst = max(site.worst, duration)
        while site.emitted and now - site.emitted[0] > _WINDOW:
            site.emitted.popleft()
        if len(site.emitted) < self.rate:
            site.emitted.append(now)
            return True
        site.held += 1
        return False

    def summary(self, force: bool = False,
                pause: Callable[[], None] = lambda: None) -> list[dict[str, Any]] | None:
        """Per-site rows since the last summary, if anything was held back (or anything
        was counted at all, with *force*: the last summary, at exit); resets counts.
        *pause* is called every hundred sites (to hand the GIL over)."""
        rows = self.dropped
        self.dropped = []
        if not rows and not any(s.count if force else s.held for s in self.sites.values()):
            return None
        for done, site in enumerate(self.sites.values(), 1):
            if site.count:
                rows.append(_summary_row(site))
            if done % _ROWS_AT_ONCE == 0:
                pause()
            site.count = site.held = 0
            site.total = site.worst = 0.0
        return rows


def _summary_row(site: _Site) -> dict[str, Any]:
    return {**site.what, "count": site.count, "sent": site.count - site.held,
            "held_back": site.held, "total_s": round(site.total, 6),
            "max_s": round(site.worst, 6)}


class StallMeter:
    """The most CPU time one thread took at once, from a start or a hand-over to the end
    or the next hand-over: that thread holds the GIL while it computes, and the hub's
    thread cannot run then. (Wall time would also count waits for the GIL while the hub
    held it, and time the OS ran other processes: on a loaded machine 10x the CPU time,
    and no stall of the hub's.) One meter per thread.

    Args:
        sleep: The original ``time.sleep`` (gevent's would switch greenlets).
    """

    def __init__(self, sleep: Callable[[float], None]) -> None:
        self.worst = 0.0
        self._sleep = sleep
        self._began = time.thread_time()

    def run(self, work: Callable[..., None], *args: Any) -> None:
        """Run *work* (which may call ``hand_over()``), measured."""
        self._began = time.thread_time()
        try:
            work(*args)
        finally:
            self._note()

    def hand_over(self) -> None:
        """Give the GIL away for a moment (the hub's thread takes it if it waits) and
        start measuring again."""
        self._note()
        self._sleep(0.0002)  # sleep(0) gives the GIL up but takes it straight back
        self._began = time.thread_time()

    def _note(self) -> None:
        self.worst = max(self.worst, time.thread_time() - self._began)


class Sink:
    """Where events go: JSON lines (a file or the original stderr), logging, metrics.

    Args:
        settings: The log, logging and metrics settings.
        pause: Called between pieces of a long line (a summary of many sites), to hand
            the GIL over.
    """

    def __init__(self, settings: MonitorSettings,
                 pause: Callable[[], None] = lambda: None) -> None:
        self.settings = settings
        self._pause = pause
        # A raw descriptor, O_APPEND for a file: each event is one write(), so the lines
        # of processes sharing the log (gunicorn's workers) never interleave or tear.
        self._fd: int | None = None
        self._histograms: tuple[Any, Any] | None = None
        self._pid = 0
        self._refused = ""
        #: Events not written (a full disk, a FIFO nobody reads); reset by the summary.
        self.lost = 0

    def open(self) -> None:
        """Open the log (again, in a forked child) and register metrics once.

        Never raises and never blocks: a log that cannot be opened is said once on the
        standard error the process started with, and tried again at the next event (a
        FIFO's reader may start later); its events are counted as lost meanwhile.
        """
        self._pid = os.getpid()
        if self._fd is not None:  # the parent's, in a forked child
            with contextlib.suppress(OSError):
                os.close(self._fd)
            self._fd = None
        self._open_log()
        if self.settings.metrics and self._histograms is None:
            self._histograms = _histograms(self.settings.metrics_port)

    def _open_log(self) -> None:
        log = self.settings.log
        if log in (None, "-"):
            with contextlib.suppress(OSError):
                self._fd = os.dup(2)  # the real standard error, whatever sys.stderr is
        elif log != "off":
            try:
                self._fd = open_log(log)
            except OSError as exc:
                if self._refused != str(exc):
                    self._refused = str(exc)
                    with contextlib.suppress(Exception):
                        print(f"patchkit.monitor: log={log}: {exc}; its events are counted "
                              "as lost until it can be opened", file=sys.__stderr__)

    def send(self, event: dict[str, Any]) -> None:
        """Write one event (never raises: a full disk must not break the program).

        An event is one whole line or nothing: a write that fails part-way (a full disk)
        is cut back off a regular file, and the event is counted in :attr:`lost`, which the
        next summary reports.
        """
        if self._pid != os.getpid():
            self.open()
        elif self._fd is None and self.settings.log not in (None, "-", "off"):
            self._open_log()
        try:
            if self._fd is not None:
                data = (self._dumps(event) + "\n").encode("utf-8", "replace")
                if not write_line(self._fd, data):
                    self.lost += 1
            elif self.settings.log not in (None, "-", "off"):
                self.lost += 1
            if self.settings.logging:
                logger.warning(_text(event), extra={"patchkit_event": event, **{
                    k: v for k, v in event.items() if k not in _RESERVED}})
        except Exception:
            self.lost += 1

    def _dumps(self, event: dict[str, Any]) -> str:
        """One JSON line; a summary's rows a hundred at a time, handing the GIL over
        between them."""
        rows = event.get("sites")
        if not isinstance(rows, list) or len(rows) <= _ROWS_AT_ONCE:
            return json.dumps(event, separators=_SEPARATORS)
        head = json.dumps({k: v for k, v in event.items() if k != "sites"},
                          separators=_SEPARATORS)
        parts = []
        for at in range(0, len(rows), _ROWS_AT_ONCE):
            self._pause()
            parts.append(json.dumps(rows[at:at + _ROWS_AT_ONCE], separators=_SEPARATORS)[1:-1])
        return f'{head[:-1]},"sites":[{",".join(parts)}]}}'

    def observe(self, event: dict[str, Any]) -> None:
        """Record a block or lag in the metrics (every one, rate limit or not)."""
        if self._histograms is None:
            return
        blocks, lag = self._histograms
        if event["event"] == "block":
            blocks.labels(package=event.get("package") or "app").observe(event["duration_s"])
        elif event["event"] == "lag":
            lag.observe(event["duration_s"])


_RESERVED = set(logging.makeLogRecord({}).__dict__) | {"message", "asctime"}


def open_log(path: str) -> int:
    """Open the log at *path* for appending; returns the descriptor.

    Never blocks: a FIFO with no reader is refused (``ENXIO``) rather than waited for, and
    a FIFO or device stays non-blocking, so a full pipe drops an event instead of stopping
    the program. A new file is created ``0600``: stacks name the program's code. In a
    folder anyone may write to (``/tmp``), a symlink is not followed: another user could
    point it at a file of the service's.

    Raises:
        OSError: it cannot be opened, or is a folder, socket or other non-file.
    """
    flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC | os.O_NONBLOCK
    folder = os.path.dirname(os.path.abspath(path))
    with contextlib.suppress(OSError):
        if os.stat(folder).st_mode & stat.S_IWOTH:
            flags |= os.O_NOFOLLOW
    try:
        fd = os.open(path, flags, 0o600)
    except OSError as exc:
        if exc.errno == errno.ENXIO:
            raise OSError(exc.errno, "a FIFO with no reader (the monitor never waits for "
                                     "one)") from None
        if exc.errno == errno.ELOOP and flags & os.O_NOFOLLOW:
            raise OSError(exc.errno, "a symlink in a folder anyone may write to (not "
                                     "followed: name the file it points to)") from None
        raise
    mode = os.fstat(fd).st_mode
    if not (stat.S_ISREG(mode) or stat.S_ISFIFO(mode) or stat.S_ISCHR(mode)):
        os.close(fd)
        raise OSError(errno.EINVAL, "not a file, FIFO or character device")
    if stat.S_ISREG(mode):
        os.set_blocking(fd, True)
    return fd


def write_line(fd: int, data: bytes) -> bool:
    """Write *data* (one line) to *fd* whole; whether it was.

    A regular file opened ``O_APPEND`` takes one ``write()`` whole, so lines of processes
    sharing the log never interleave. Should a write fail part-way (a full disk), the part
    written is cut off again (when nothing was appended after it), so the next event does
    not glue onto a torn line. A pipe takes a line of up to 4 KiB (``PIPE_BUF``) whole or
    not at all; a longer one may be cut by a full pipe.
    """
    try:
        start = os.fstat(fd)
    except OSError:
        return False
    written = 0
    try:
        while written < len(data):
            written += os.write(fd, data[written:])
        return True
    except OSError:
        if written and stat.S_ISREG(start.st_mode):
            with contextlib.suppress(OSError):
                if os.fstat(fd).st_size == start.st_size + written:
                    os.ftruncate(fd, start.st_size)
        return False


def _text(event: dict[str, Any]) -> str:
    kind = event["event"]
    if kind == "block":
        return (f"hub blocked {event['duration_s'] * 1000:.1f} ms at {event.get('file')}:"
                f"{event.get('line')} in {event.get('function')}")
    if kind == "lag":
        return f"hub loop ran {event['duration_s'] * 1000:.1f} ms late"
    return f"hub blocking summary: {len(event.get('sites', []))} call site(s)"


def _histograms(port: int | None) -> tuple[Any, Any] | None:
    try:
        import prometheus_client
    except ImportError:
        logger.warning("PATCHKIT_MONITOR metrics need prometheus_client: "
                       "pip install 'gevent-patchkit[monitor]'")
        return None
    buckets = (0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0)
    blocks = prometheus_client.Histogram(
        "patchkit_hub_block_seconds", "How long one greenlet held the gevent hub",
        ["package"], buckets=buckets)
    lag = prometheus_client.Histogram(
        "patchkit_loop_lag_seconds", "How late the gevent hub's loop ran (one loop turn)",
        buckets=buckets)
    if port:
        prometheus_client.start_http_server(port, addr="127.0.0.1")
    return blocks, lag


def now_iso() -> float:
    """Event timestamps: seconds since the epoch."""
    return round(time.time(), 6)
