"""Stopping an audited program every time: SIGTERM, SIGINT and ``--duration``.

The stop is raised in the target as :class:`_Stop` (a ``SystemExit``, so its ``finally``
blocks run), except where raising it would do harm -- in the auditor's own code, in
patching, in the hub's own setup -- where it is sent again shortly. A signal that no
Python handler can see (the main thread stuck in C) still reaches a native thread through
the signal wakeup file descriptor, which starts the stop watchdog (see ``runner``).
"""

from __future__ import annotations

import dis
import functools
import os
import signal
import sys
import types
from typing import Any, Callable

from .._threads import original_thread_api

__all__ = ["Stopper"]


_AUDIT_DIR = os.path.dirname(os.path.abspath(__file__)) + os.sep
_RESEND_DELAY = 0.002  # seconds before a signal that hit the auditor's own code lands again


class _Stop(SystemExit):
    """Raised in the target by SIGTERM or --duration; a SystemExit so gevent passes it
    from the hub to the main greenlet and the target's ``finally`` blocks run."""


_PATCHING_FILES = (os.path.join(os.path.dirname(_AUDIT_DIR.rstrip(os.sep)), "_core.py"),
                   os.sep + os.path.join("gevent", "monkey") + os.sep)


class Stopper:
    """SIGTERM and ``--duration`` handling: stop the target with :class:`_Stop`.

    A stop is raised in the target only while it runs (between :meth:`begin` and
    :meth:`end`). One that comes before -- while the auditor sets up -- or after -- while
    the report is built and written -- is noted in :attr:`noted` and acted on by the
    runner: the target is not started, or the process ends by the signal once the report
    is written. Raised there, it would end the auditor with no report.

    Args:
        duration: Seconds before the target is stopped, or None.
        hub_ident: OS thread id of the thread running the target.
    """

    def __init__(self, duration: float | None, hub_ident: int) -> None:
        self.duration = duration
        self.hub_ident = hub_ident
        self.reason: str | None = None
        self.ident: int | None = None
        self.reader: int | None = None
        self.signalled: str | None = None
        self._previous: Any = None
        self._previous_int: Any = None
        self._lock: Any = None
        self._wakeup: tuple[int, int, int] | None = None  # (read fd, write fd, previous fd)
        self.on_request: Callable[[], None] = lambda: None
        self.phase = "before"  # the target: "before" it starts, "running", "after" it ended
        #: The stop that came while the target was not running: a signal number, or 0 for
        #: --duration; None when none did.
        self.noted: int | None = None

    def begin(self) -> bool:
        """The target is about to start: whether it may (no stop came during set-up).

        A stop that comes between the check and the target's first instruction is
        raised there, as any stop while it runs.
        """
        self.phase = "running"
        return self.noted is None

    def end(self) -> None:
        """The target ended: stops from now on are noted, for after the report."""
        self.phase = "after"

    def note_early(self, signum: int) -> None:
        """A stop signal that came before :meth:`arm` (while the auditor was importing)."""
        if signum == signal.SIGTERM and self.reason is None:
            self.reason = "SIGTERM"
        self._note(signum)

    def _note(self, signum: int) -> None:
        if self.noted is None:
            self.noted = signum
            self.on_request()

    def arm(self, inherited: dict[int, Any] | None = None) -> None:
        """Install the SIGTERM (and default SIGINT) handlers and start the --duration timer.

        Main thread only.

        Args:
            inherited: The handlers that were there before the audit's early ones (which
                these replace at once: ``EarlyStops.handlers``), restored by :meth:`disarm`.
        """
        inherited = inherited or {}
        previous = signal.signal(signal.SIGTERM, self._on_sigterm)
        self._previous = inherited.get(signal.SIGTERM, previous)
        int_before = inherited.get(signal.SIGINT, signal.getsignal(signal.SIGINT))
        if int_before is signal.default_int_handler:
            signal.signal(signal.SIGINT, self._on_sigint)
            self._previous_int = int_before
        elif signal.SIGINT in inherited:
            signal.signal(signal.SIGINT, int_before)  # the early handler's, put back
        if self.duration is not None:
            start_thread, allocate_lock, _ = original_thread_api()
            self._lock = allocate_lock()
            self._lock.acquire()
            start_thread(self._timer, ())
        self._watch_signals()

    def _watch_signals(self) -> None:
        # CPython runs a Python signal handler only between bytecodes of the main thread:
        # while that thread is stuck in C, the handler -- and the watchdog it starts --
        # never runs. The C-level handler still writes the signal's number to the wakeup
        # fd, which a native thread reads.
        read_fd, write_fd = os.pipe()
        os.set_blocking(write_fd, False)
        try:
            previous = signal.set_wakeup_fd(write_fd, warn_on_full_buffer=False)
        except ValueError:  # not the main thread
            os.close(read_fd)
            os.close(write_fd)
            return
        self._wakeup = (read_fd, write_fd, previous)
        start_thread, _, _ = original_thread_api()
        start_thread(self._read_signals, (read_fd,))

    def _read_signals(self, read_fd: int) -> None:
        from gevent.monkey import get_original

        read = get_original("os", "read")
        _, _, get_ident = original_thread_api()
        self.reader = get_ident()
        try:
            while True:
                data = read(read_fd, 64)
                if not data or 0 in data:  # 0: disarm() says stop
                    return
                if signal.SIGTERM in data or signal.SIGINT in data:
                    # Only named: the reason is set by the handler that acts on it (the
                    # program's own, if it replaced ours, decides how it ends).
                    self.signalled = "SIGTERM" if signal.SIGTERM in data else "SIGINT"
                    self.on_request()
        except OSError:
            return
        finally:
            os.close(read_fd)

    def disarm(self, in_child: bool = False) -> None:
        """Stop the timer and the signal watch, restore the previous handlers; idempotent.

        Args:
            in_child: In a forked child, whose copies of the watch's pipe are shared with
                the parent's still-running watch thread: closed, never written to.
        """
        if self._lock is not None:
            if not in_child:
                self._lock.release()
            self._lock = None
        if self._wakeup is not None:
            read_fd, write_fd, previous = self._wakeup
            self._wakeup = None
            try:
                signal.set_wakeup_fd(previous)
            except ValueError:
                pass
            if in_child:
                os.close(read_fd)
            else:
                try:
                    os.write(write_fd, b"\0")
                except OSError:
                    pass
            os.close(write_fd)
        if self._previous is not None:
            signal.signal(signal.SIGTERM, self._previous)
            self._previous = None
        if self._previous_int is not None:
            if signal.getsignal(signal.SIGINT) == self._on_sigint:
                signal.signal(signal.SIGINT, self._previous_int)
            self._previous_int = None

    def _deferred(self, signum: int, frame: Any) -> bool:
        # An exception raised inside the greenlet tracer, the audit hook or a gc callback
        # would break the target's switch or call (or be ignored); let the signal land
        # again shortly, from a native thread: re-sent from here, it would be handled at
        # once, inside this handler, deferred again, and so on until a RecursionError.
        # Likewise in patching and in the hub's own setup code (see _must_wait).
        if frame is not None and _must_wait(frame):
            start_thread, _, _ = original_thread_api()
            start_thread(self._resend, (signum,))
            return True
        return False

    def _resend(self, signum: int) -> None:
        from gevent.monkey import get_original

        get_original("time", "sleep")(_RESEND_DELAY)
        signal.pthread_kill(self.hub_ident, signum)

    def _on_sigint(self, signum: int, frame: Any) -> None:
        if self.phase != "running":
            self._note(signum)
        elif not self._deferred(signum, frame):
            self.on_request()
            raise KeyboardInterrupt

    def _on_sigterm(self, signum: int, frame: Any) -> None:
        if self.phase != "running":
            if self.reason is None:
                self.reason = "SIGTERM"
            self._note(0 if self.reason == "--duration" else signum)
            return
        if self._deferred(signum, frame):
            return
        if self.reason is None:
            self.reason = "SIGTERM"
        self.on_request()
        raise _Stop(0 if self.reason == "--duration" else 128 + signal.SIGTERM)

    def _timer(self) -> None:
        _, _, get_ident = original_thread_api()
        self.ident = get_ident()
        lock = self._lock
        if lock is None or lock.acquire(True, self.duration) or self.phase == "after":
            return
        self.reason = "--duration"
        self.on_request()
        # A real signal (not interrupt_main) also interrupts a blocking call in C. A
        # program that owns SIGTERM (gunicorn's master, Celery) gets SIGINT, its quick
        # stop: Celery's warm shutdown on SIGTERM can outlast the grace period; the exit
        # status is then the program's own (Celery's is 1).
        ours = signal.getsignal(signal.SIGTERM) == self._on_sigterm
        signal.pthread_kill(self.hub_ident, signal.SIGTERM if ours else signal.SIGINT)


def _must_wait(frame: Any) -> bool:
    """Whether a stop raised at *frame* has to wait, by one walk down its stack.

    - In the auditor's own code (a tracer, the audit hook, a gc callback): the exception
      would break the target's switch or call, or be ignored.
    - Inside patching: a stop there would leave the process half patched (gevent's
      thread patch cannot be rolled back from every point).
    - gevent's hub running its own Python code outside its loop: ``Hub.run`` calls Python
      code before its loop starts (its monitor-thread setup, right after the target first
      waits). A stop raised there does not pass through the loop's error handling: it ends
      the hub, and the main greenlet, handed the error by the dying hub, cannot switch to
      it again -- the target's ``finally`` blocks fail with InvalidSwitchError and it
      exits 1. The same when the handler's frame is ``Hub.run`` itself anywhere but its
      ``loop.run()`` line: on its first instruction (where Python checks for signals as a
      function starts) or in a C call before the loop. On the ``loop.run()`` line the loop's
      C code checked signals, and gevent hands the error to the main greenlet. Engine code
      called from a loop callback reads the same and is merely deferred too.
    """
    if frame.f_code.co_filename.startswith(_AUDIT_DIR):
        return True
    hub = getattr(sys.modules.get("gevent.hub"), "Hub", None)
    run_code = getattr(getattr(hub, "run", None), "__code__", None)
    if frame.f_code is run_code:  # the loop's C code checked signals, or Hub.run is starting
        return frame.f_lineno not in _loop_run_lines(run_code)
    gevent_dir, stdlib, site = _engine_folders()
    engine_only = True  # the engine's code all the way down so far
    for _ in range(100):
        if frame is None:
            break
        file = frame.f_code.co_filename
        if file == _PATCHING_FILES[0] or _PATCHING_FILES[1] in file:
            return True
        if frame.f_code is run_code:
            return engine_only
        if engine_only and not (file.startswith((gevent_dir, "<frozen "))
                                or file.startswith(stdlib) and not file.startswith(site)):
            engine_only = False  # the target's code: a loop callback, or not in the hub
        frame = frame.f_back
    return False


@functools.lru_cache(maxsize=4)
def _loop_run_lines(run_code: types.CodeType) -> frozenset[int]:
    """The lines of ``Hub.run`` that call ``loop.run()``: a signal handled with Hub.run's
    frame on one of them came from inside the loop."""
    return frozenset(
        instruction.positions.lineno for instruction in dis.get_instructions(run_code)
        if instruction.argval == "run" and instruction.opname.startswith("LOAD_")
        and instruction.positions is not None and instruction.positions.lineno is not None)


def _engine_folders() -> tuple[str, str, tuple[str, ...]]:
    """gevent's folder, the standard library's, and site-packages' (which may lie inside
    the standard library's, in a Python without a venv)."""
    import sysconfig

    import gevent

    paths = sysconfig.get_paths()
    gevent_dir = os.path.dirname(os.path.abspath(gevent.__file__ or "")) + os.sep
    stdlib = os.path.abspath(paths["stdlib"]) + os.sep
    site = tuple(os.path.abspath(paths[key]) + os.sep for key in ("purelib", "platlib"))
    return gevent_dir, stdlib, site
