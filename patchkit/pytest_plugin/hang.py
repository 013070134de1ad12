"""Saying something when a patched pytest session hangs, for the pytest plugin.

Two hangs leave a run silent: a hub block that never ends (a C call waiting with the
GIL released: ``zmq`` ``ctx.term()`` in a greenlet), and a session that finished but
whose process does not exit (a non-daemon thread -- a greenlet, once patched -- that
``threading``'s shutdown waits for, a child process, a watcher keeping the loop busy).
Both are reported on the terminal's own stderr (duplicated before pytest captures it),
from a native thread: the sampler's, when one block has lasted ``after`` seconds, and
a watchdog started when the session ends, once ``after`` seconds have passed.
"""

from __future__ import annotations

import gc
import os
import sys
import time
import traceback
from typing import Any, Callable

__all__ = ["LiveWarning", "ExitWatchdog", "diagnose_exit"]


def _write(fd: int, text: str) -> None:
    data = text.encode("utf-8", "replace")
    try:
        while data:
            data = data[os.write(fd, data):]
    except OSError:
        pass  # the terminal went away; nothing to tell


class LiveWarning:
    """Prints a hub block that has lasted *after* seconds, with its stack, while it lasts.

    Args:
        fd: Where to write (the terminal's stderr, duplicated before capturing).
        after: Seconds a block must last before it is reported (once per block).
        describe: Turns ``(stack, callee, seconds)`` into the finding's text.
        current: Returns the test running now (its node id), or None.
    """

    def __init__(self, fd: int, after: float, describe: Callable[[Any, Any, float], str],
                 current: Callable[[], str | None]) -> None:
        self.fd = fd
        self.after = after
        self.describe = describe
        self.current = current
        self.warned = 0

    def __call__(self, start: float, stack: Any, callee: Any) -> None:
        """Sampler thread: report the block that began at *start* (perf_counter)."""
        lasted = time.perf_counter() - start
        where = self.current()
        try:
            body = self.describe(stack, callee, lasted)
        except Exception:  # a bug of ours must not kill the sampler: say what we can
            body = "".join(traceback.format_exc(limit=3))
        self.warned += 1
        _write(self.fd, f"\npatchkit: the gevent hub has been held for {lasted:.1f} s"
                        f"{f' in {where}' if where else ''} and still is (reported once "
                        f"per block; --patchkit-hang sets when):\n{body}\n\n")


class ExitWatchdog:
    """After the session ends: if the process is still alive *after* seconds later, print
    what keeps it alive (:func:`diagnose_exit`). A native thread, which shutdown does
    not wait for."""

    def __init__(self, fd: int, after: float, hub: Any, main_ident: int) -> None:
        self.fd = fd
        self.after = after
        self.hub = hub
        self.main_ident = main_ident
        self.ident: int | None = None
        self._lock: Any = None

    def start(self) -> None:
        """Start the countdown."""
        from .._threads import original_thread_api

        start_thread, allocate_lock, _ = original_thread_api()
        self._lock = allocate_lock()
        self._lock.acquire()
        start_thread(self._run, ())

    def _run(self) -> None:
        from .._threads import original_thread_api

        self.ident = original_thread_api()[2]()
        if self._lock.acquire(True, self.after):
            return
        try:
            text = diagnose_exit(self.hub, self.main_ident, {self.ident})
        except Exception:
            text = "".join(traceback.format_exc(limit=5))
        _write(self.fd, f"\npatchkit: pytest finished {self.after:g} s ago but this process "
                        f"(pid {os.getpid()}) has not exited. What keeps it alive:\n{text}\n")


def _frame_lines(frame: Any, limit: int = 6, indent: str = "      ") -> list[str]:
    stack = traceback.extract_stack(frame)[-limit:]
    return [f"{indent}{f.filename}:{f.lineno} in {f.name}" for f in stack]


def _threads(main_ident: int, own: set[int]) -> list[str]:
    """Threads other than the main one: greenlet threads (patched ``threading``) and
    native ones, non-daemon ones first (``threading``'s shutdown waits for those)."""
    import threading

    import greenlet  # type: ignore[import-untyped]

    frames = sys._current_frames()
    # Patched, a Thread is a greenlet and its ident the greenlet's id().
    greenlets = {id(g): g for g in gc.get_objects() if isinstance(g, greenlet.greenlet)}
    lines: list[str] = []
    seen: set[int] = set()
    for thread in sorted(threading.enumerate(), key=lambda t: t.daemon):
        ident = thread.ident or 0
        if ident in own or thread is threading.main_thread() or not thread.is_alive():
            continue
        seen.add(ident)
        kind = "daemon" if thread.daemon else "not daemon: shutdown waits for it"
        lines.append(f"  thread {thread.name!r} ({kind})")
        frame = frames.get(ident) or getattr(greenlets.get(ident), "gr_frame", None)
        if frame is not None:
            lines += _frame_lines(frame)
    for ident, frame in frames.items():
        if ident in seen or ident in own or ident == main_ident:
            continue
        lines.append(f"  native thread {ident} (not started through threading)")
        lines += _frame_lines(frame)
    lines.append("  main thread, now:")
    if main_ident in frames:
        lines += _frame_lines(frames[main_ident], limit=8)
    return lines


def _greenlets(hub: Any) -> list[str]:
    """Greenlets started and not finished, with where each is suspended."""
    import greenlet
    from gevent.hub import Hub

    lines = []
    for obj in gc.get_objects():
        if not isinstance(obj, greenlet.greenlet) or isinstance(obj, Hub) or obj.dead:
            continue
        frame = obj.gr_frame
        if frame is None:
            continue
        label = "main greenlet" if obj.parent is None else f"greenlet {obj!r}"
        lines.append(f"  {label}"[:160])
        lines += _frame_lines(frame, limit=3)
    return lines


def _children() -> list[str]:
    """Child processes still running (Linux ``/proc``)."""
    pids: set[str] = set()
    try:
        for task in os.listdir("/proc/self/task"):
            with open(f"/proc/self/task/{task}/children") as handle:
                pids.update(handle.read().split())
    except OSError:
        return []
    lines = []
    for pid in sorted(pids, key=int):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as handle:
                cmd = handle.read().replace(b"\0", b" ").decode(errors="replace").strip()
        except OSError:
            cmd = "?"
        lines.append(f"  child process {pid}: {cmd[:200]}")
    return lines


def _watchers(hub: Any) -> list[str]:
    """Active watchers of the hub's loop that keep it running (``ref``), by callback."""
    if hub is None:
        return []
    lines = []
    for obj in gc.get_objects():
        kind = type(obj)
        module = getattr(kind, "__module__", None)
        if not (isinstance(module, str) and module.startswith("gevent.")
                and hasattr(kind, "callback")
                and hasattr(kind, "active") and hasattr(kind, "ref")):
            continue
        try:
            if obj.active and obj.ref and getattr(obj, "loop", hub.loop) is hub.loop:
                lines.append(f"  {obj!r}"[:200])
        except Exception:
            continue
    return lines


def diagnose_exit(hub: Any, main_ident: int, own: set[int]) -> str:
    """What can keep a finished, patched process from exiting, as text.

    Args:
        hub: The main thread's gevent hub (or None).
        main_ident: The main thread's ident.
        own: Idents of patchkit's own threads, left out.
    """
    sections = [("threads", _threads(main_ident, own)), ("greenlets", _greenlets(hub)),
                ("child processes", _children()), ("active watchers", _watchers(hub))]
    out = []
    for title, lines in sections:
        out.append(f" {title}:" if lines else f" {title}: none")
        out += lines
    return "\n".join(out)
