"""Run a target exactly as ``python`` would, under observation, and always report.

The detectors start before the target, on its (the hub's) thread; the target runs
through :func:`patchkit._run.run_target`. However the run ends -- return,
``sys.exit``, an uncaught error, SIGINT, SIGTERM, ``--duration`` -- the detectors
are stopped, findings are built and the report is written before the process
ends the way the target would have ended it.
"""

from __future__ import annotations

import importlib.util
import os
import signal
import sys
import time
import traceback
from typing import IO, TYPE_CHECKING, Any, Callable

from patchkit._run import Target, die_like_python, run_target

from .config import STRICT_EXIT_CODE, STUCK_EXIT_CODE, AuditConfig
from .detectors.sampler import original_thread_api
from .follow import FOLLOW_ENV, FollowSettings, ProcessAudit
from .guard import auditor_work
from .session import Session

if TYPE_CHECKING:
    from .report import Report

# findings, advice and report (with rich) are imported only once the target ended:
# the audited process starts faster and its heap, which every full GC walks, stays small.

__all__ = ["Auditor", "Stopper", "run"]

Auditor = Session  # the name the pytest plugin imports


_AUDIT_DIR = os.path.dirname(os.path.abspath(__file__)) + os.sep
_RESEND_DELAY = 0.002  # seconds before a signal that hit the auditor's own code lands again


class _Stop(SystemExit):
    """Raised in the target by SIGTERM or --duration; a SystemExit so gevent passes it
    from the hub to the main greenlet and the target's ``finally`` blocks run."""


_PATCHING_FILES = (os.path.join(os.path.dirname(_AUDIT_DIR.rstrip(os.sep)), "_core.py"),
                   os.sep + os.path.join("gevent", "monkey") + os.sep)


def _patching(frame: Any) -> bool:
    """Whether *frame* is inside patching: a stop raised there would leave a process
    half patched (gevent's thread patch cannot be rolled back from every point)."""
    depth = 0
    while frame is not None and depth < 100:
        name = frame.f_code.co_filename
        if name == _PATCHING_FILES[0] or _PATCHING_FILES[1] in name:
            return True
        frame, depth = frame.f_back, depth + 1
    return False


class Stopper:
    """SIGTERM and ``--duration`` handling: stop the target with :class:`_Stop`.

    Args:
        duration: Seconds before the target is stopped, or None.
        hub_ident: OS thread id of the thread running the target.
    """

    def __init__(self, duration: float | None, hub_ident: int) -> None:
        self.duration = duration
        self.hub_ident = hub_ident
        self.reason: str | None = None
        self.ident: int | None = None
        self._previous: Any = None
        self._previous_int: Any = None
        self._lock: Any = None
        self.on_request: Callable[[], None] = lambda: None

    def arm(self) -> None:
        """Install the SIGTERM (and default SIGINT) handlers and start the --duration timer.

        Main thread only.
        """
        self._previous = signal.signal(signal.SIGTERM, self._on_sigterm)
        if signal.getsignal(signal.SIGINT) is signal.default_int_handler:
            self._previous_int = signal.signal(signal.SIGINT, self._on_sigint)
        if self.duration is not None:
            start_thread, allocate_lock, _ = original_thread_api()
            self._lock = allocate_lock()
            self._lock.acquire()
            start_thread(self._timer, ())

    def disarm(self) -> None:
        """Stop the timer and restore the previous SIGTERM handler; idempotent."""
        if self._lock is not None:
            self._lock.release()
            self._lock = None
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
        # Likewise in patching and in the hub's own setup code (see _patching and
        # _in_hub_setup).
        if frame is not None and (frame.f_code.co_filename.startswith(_AUDIT_DIR)
                                  or _patching(frame) or _in_hub_setup(frame)):
            start_thread, _, _ = original_thread_api()
            start_thread(self._resend, (signum,))
            return True
        return False

    def _resend(self, signum: int) -> None:
        from gevent.monkey import get_original

        get_original("time", "sleep")(_RESEND_DELAY)
        signal.pthread_kill(self.hub_ident, signum)

    def _on_sigint(self, signum: int, frame: Any) -> None:
        if not self._deferred(signum, frame):
            self.on_request()
            raise KeyboardInterrupt

    def _on_sigterm(self, signum: int, frame: Any) -> None:
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
        if lock is None or lock.acquire(True, self.duration):
            return
        self.reason = "--duration"
        self.on_request()
        # A real signal (not interrupt_main) also interrupts a blocking call in C.
        ours = signal.getsignal(signal.SIGTERM) == self._on_sigterm
        signal.pthread_kill(self.hub_ident, signal.SIGTERM if ours else signal.SIGINT)


def _in_hub_setup(frame: Any) -> bool:
    """Whether *frame* is gevent's hub running its own Python code outside its loop.

    ``Hub.run`` calls Python code before its loop starts (its monitor-thread setup,
    right after the target first waits). A stop raised there does not pass through the
    loop's error handling: it ends the hub, and the main greenlet, handed the error by
    the dying hub, cannot switch to it again -- the target's ``finally`` blocks fail with
    InvalidSwitchError and it exits 1. Inside the loop (the handler's frame is
    ``Hub.run`` itself: the loop's C code checks signals) gevent hands the error to the
    main greenlet. Engine code called from a loop callback reads the same and is merely
    deferred too.
    """
    hub_module = sys.modules.get("gevent.hub")
    if hub_module is None:
        return False
    run_code = getattr(hub_module.Hub.run, "__code__", None)
    if frame.f_code is run_code:
        return False
    import sysconfig

    import gevent

    paths = sysconfig.get_paths()
    gevent_dir = os.path.dirname(os.path.abspath(gevent.__file__ or "")) + os.sep
    stdlib = os.path.abspath(paths["stdlib"]) + os.sep
    # site-packages may lie inside the stdlib folder (a Python without a venv)
    site = tuple(os.path.abspath(paths[key]) + os.sep for key in ("purelib", "platlib"))
    while frame is not None:
        if frame.f_code is run_code:
            return True
        file = frame.f_code.co_filename
        if not (file.startswith((gevent_dir, "<frozen "))
                or file.startswith(stdlib) and not file.startswith(site)):
            return False  # the target's code: it runs in a loop callback, or not in the hub
        frame = frame.f_back
    return False


def _target_file(target: Target) -> str | None:
    if target.kind == "path":
        return os.path.abspath(target.value)
    try:
        spec = importlib.util.find_spec(target.value)
    except (ImportError, ValueError):
        return None
    return spec.origin if spec is not None and spec.has_location else None


def _run_observed(config: AuditConfig, stopper: Stopper) -> tuple[int, KeyboardInterrupt | None]:
    try:
        if config.patch:
            import patchkit

            patchkit.patch_all()
        return run_target(config.target), None
    except KeyboardInterrupt as exc:
        if stopper.reason == "--duration":
            return 0, None
        return 128 + signal.SIGINT, exc


class _Main:
    """The main process's end: one report, merged from every process, written once --
    by the main thread when the target returns, by ``os._exit``, or by the watchdog when
    the target does not stop within the grace period after it was asked to."""

    def __init__(self, config: AuditConfig, audit: ProcessAudit, stopper: Stopper,
                 stderr: IO[str]) -> None:
        self.config = config
        self.audit = audit
        self.stopper = stopper
        self.stderr = stderr
        _, allocate_lock, _ = original_thread_api()
        self._lock = allocate_lock()
        self.report: Report | None = None

    def finish(self, code: int) -> Report:
        """Build and write the report (the first call does; later calls return it)."""
        with self._lock:
            if self.report is None:
                self.report = self._build(code)
                _emit(self.report, self.config, self.stderr)
            return self.report

    def _build(self, code: int) -> Report:
        session = self.audit.session
        try:
            own = self.audit.finish(code)  # first: the imports below are not the program's
        except Exception:
            traceback.print_exc(file=self.stderr)
            own = None
        from .processes import merge, wait_for
        from .report import Report

        try:
            if own is None:
                raise RuntimeError("no findings from the main process")
            others = wait_for(self.audit.folder, os.getpid(), self.config.child_grace) \
                if self.audit.folder else []
            processes, findings = merge([own, *others], session.started_at, self.config.follow)
        except Exception:  # a bug of ours must not cost the user the report and exit code
            traceback.print_exc(file=self.stderr)
            print("python -m patchkit.audit: internal error while building findings; "
                  "the report lists none", file=self.stderr)
            processes, findings = [], []
        patched = sorted({m for p in processes for m in p.patched}
                         | set(session.watch.patched_modules()))
        return Report(self.config.target.display,
                      [self.config.target.value, *self.config.target.args], code,
                      time.perf_counter() - session.started, patched, findings,
                      self.stopper.reason, processes=processes, started_at=session.started_at)

    def watchdog(self) -> None:
        """Start a native thread that ends the process if it outlives the grace period."""
        start_thread, _, _ = original_thread_api()
        start_thread(self._watch, ())

    def _watch(self) -> None:
        from gevent.monkey import get_original

        get_original("time", "sleep")(self.config.grace)
        reason = self.stopper.reason or "SIGINT"
        what = "exit" if self.report is not None else "stop"
        print(f"python -m patchkit.audit: the program did not {what} within "
              f"{self.config.grace:g} s of {reason}; ending it (exit status "
              f"{STUCK_EXIT_CODE})", file=self.stderr)
        try:
            if self.report is None:
                self.stopper.reason = f"{reason}, not stopping"
                self.finish(STUCK_EXIT_CODE)
        finally:
            self.stderr.flush()
            os._exit(STUCK_EXIT_CODE)


def _real_stderr() -> IO[str]:
    """The descriptor the process started with as stderr, whatever ``sys.stderr`` becomes
    (Celery routes ``sys.stderr`` through its logger)."""
    try:
        return os.fdopen(os.dup(2), "w", buffering=1, encoding="utf-8", errors="replace")
    except OSError:
        return sys.__stderr__ or sys.stderr


def _follow(config: AuditConfig, folder: str) -> None:
    if config.follow:
        os.environ[FOLLOW_ENV] = FollowSettings(
            folder, config.threshold, config.include, config.exclude,
            config.flush_interval).encode()
    else:
        os.environ.pop(FOLLOW_ENV, None)


def run(config: AuditConfig) -> int:
    """Audit one run of ``config.target`` and every process it starts; returns the exit
    status to use.

    Ends the process itself (by the same signal) when the target was stopped by
    SIGINT or SIGTERM, after the report is written.
    """
    import shutil
    import tempfile

    pid = os.getpid()
    stderr = _real_stderr()
    folder = tempfile.mkdtemp(prefix="patchkit-audit-")
    session = Session(config)
    stopper = Stopper(config.duration, session.hub_ident)
    audit = ProcessAudit(session, folder, config.flush_interval, _target_file(config.target))
    main = _Main(config, audit, stopper, stderr)
    audit.on_exit = main.finish
    stopper.on_request = main.watchdog
    session.extra_idents = lambda: {stopper.ident} if stopper.ident else set()
    session.fork_listeners.append(lambda _: stopper.disarm())
    _follow(config, folder)
    stopper.arm()
    _arm_dump(main)
    audit.start()
    try:
        code, interrupt = _run_observed(config, stopper)
    finally:
        if os.getpid() == pid:
            stopper.disarm()
    if os.getpid() != pid:
        audit.finish(code)  # a forked child finishing the script: its part goes home
        return code
    report = main.finish(code)
    shutil.rmtree(folder, ignore_errors=True)
    if interrupt is not None:
        die_like_python(interrupt)
    if stopper.reason == "SIGTERM":
        sys.stdout.flush()
        sys.stderr.flush()
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        os.kill(os.getpid(), signal.SIGTERM)
    if config.strict and report.findings and code == 0:
        return STRICT_EXIT_CODE
    return code


DUMP_SIGNAL = signal.SIGUSR2


def _arm_dump(main: _Main) -> None:
    """SIGUSR2 writes the report so far and every greenlet's stack, and the program goes on."""
    if signal.getsignal(DUMP_SIGNAL) not in (signal.SIG_DFL, None):
        return  # the program's own (or its launcher's) handler wins

    def on_dump(signum: int, frame: Any) -> None:
        start_thread, _, _ = original_thread_api()
        start_thread(_dump, (main,))

    signal.signal(DUMP_SIGNAL, on_dump)


def _dump(main: _Main) -> None:
    from gevent.util import format_run_info

    from .processes import merge, read_parts
    from .report import Report, make_console, render_terminal

    audit, session = main.audit, main.audit.session
    try:
        with auditor_work():
            audit.flush(force=True)
            parts = [audit.part(), *read_parts(audit.folder or "", skip=os.getpid())]
            processes, findings = merge(parts, session.started_at, main.config.follow)
            report = Report(main.config.target.display, [main.config.target.value],
                            -1, time.perf_counter() - session.started,
                            session.watch.patched_modules(), findings, "SIGUSR2 (still running)",
                            processes=processes, started_at=session.started_at)
            if main.config.json_path not in (None, "-"):
                from .report import write_json

                write_json(report, main.config.json_path)
            render_terminal(report, make_console(main.stderr))
            main.stderr.write("\n".join(format_run_info()) + "\n")
            main.stderr.flush()
    except Exception as exc:
        print(f"python -m patchkit.audit: SIGUSR2 dump failed: {exc!r}", file=main.stderr)


def _emit(report: Report, config: AuditConfig, stderr: IO[str]) -> None:
    from .report import make_console, render_terminal, write_json

    with auditor_work():
        if config.json_path is not None:
            try:
                write_json(report, config.json_path)
            except OSError as exc:
                print(f"python -m patchkit.audit: cannot write {config.json_path}: {exc}",
                      file=stderr)
        if config.html_path is not None or config.sarif_path is not None:
            from .saved import emit_files

            for line in emit_files(report, config.html_path, config.sarif_path, config.root):
                print(f"python -m patchkit.audit: {line}", file=stderr)
        if not config.quiet:
            render_terminal(report, make_console(stderr))
        stderr.flush()
