"""Run a target exactly as ``python`` would, under observation, and always report.

The detectors start before the target, on its (the hub's) thread; the target runs
through :func:`patchkit._run.run_target`. However the run ends -- return,
``sys.exit``, an uncaught error, SIGINT, SIGTERM, ``--duration`` -- the detectors
are stopped, findings are built and the report is written before the process
ends the way the target would have ended it.
"""

from __future__ import annotations

import _thread
import contextlib
import importlib.util
import os
import signal
import sys
import time
import traceback
from typing import IO, TYPE_CHECKING, Any

from patchkit._early import EarlyStops
from patchkit._follow_hook import FOLDER_PREFIX
from patchkit._run import Target, die_like_python, exit_code, run_target

from .._threads import original_thread_api
from .config import STRICT_EXIT_CODE, STUCK_EXIT_CODE, AuditConfig
from .follow import FOLLOW_ENV, FollowSettings, ProcessAudit
from .guard import auditor_work
from .session import Session
from .stopping import Stopper

if TYPE_CHECKING:
    from ..model import Report

# findings, advice and report (with rich) are imported only once the target ended:
# the audited process starts faster and its heap, which every full GC walks, stays small.

__all__ = ["Stopper", "run"]



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
        try:
            if config.patch:
                import patchkit

                patchkit.patch_all()
            if not stopper.begin():
                return _stopped_before_start(stopper)
            return run_target(config.target), None
        finally:
            stopper.end()
    except KeyboardInterrupt as exc:
        if stopper.reason == "--duration":
            return 0, None
        return 128 + signal.SIGINT, exc
    except SystemExit as exc:  # a stop raised before run_target's own handling or after it
        return exit_code(exc), None


def _stopped_before_start(stopper: Stopper) -> tuple[int, KeyboardInterrupt | None]:
    """The outcome of a stop that came while the auditor set up: the target never ran."""
    noted, stopper.noted = stopper.noted, None
    if noted == signal.SIGINT:
        return 128 + signal.SIGINT, KeyboardInterrupt()
    if noted == signal.SIGTERM:
        return 128 + signal.SIGTERM, None
    return 0, None  # --duration


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
        self._watching = False
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
        from ..model import build_report
        from .processes import merge, wait_for

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
                         | set(session.patched_modules()))
        target = self.config.target
        return build_report(target=target.display, argv=[target.value, *target.args],
                            exit_code=code, duration_s=time.perf_counter() - session.started,
                            patched=patched, findings=findings, stopped_by=self.stopper.reason,
                            processes=processes, started_at=session.started_at)

    def watchdog(self) -> None:
        """Start a native thread that ends the process if it outlives the grace period
        (once: the first stop request counts)."""
        if self._watching:
            return
        self._watching = True
        start_thread, _, _ = original_thread_api()
        start_thread(self._watch, ())

    def _watch(self) -> None:
        from gevent.monkey import get_original

        get_original("time", "sleep")(self.config.grace)
        reason = self.stopper.reason or self.stopper.signalled or "SIGINT"
        what = "exit" if self.report is not None else "stop"
        print(f"python -m patchkit.audit: the program did not {what} within "
              f"{self.config.grace:g} s of {reason}; ending it (exit status "
              f"{STUCK_EXIT_CODE})", file=self.stderr)
        try:
            if self.report is None:
                self.stopper.reason = f"{reason}, not stopping"
                self.finish(STUCK_EXIT_CODE)
        finally:
            with contextlib.suppress(Exception):
                self.stderr.flush()
            if self.audit.folder:
                import shutil

                shutil.rmtree(self.audit.folder, ignore_errors=True)
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
            config.flush_interval, config.exact).encode()
    else:
        os.environ.pop(FOLLOW_ENV, None)


def run(config: AuditConfig, early: EarlyStops | None = None) -> int:
    """Audit one run of ``config.target`` and every process it starts; returns the exit
    status to use.

    Ends the process itself (by the same signal) when the target was stopped by
    SIGINT or SIGTERM, after the report is written -- also when the signal came before
    the target started (it is then not started) or after it ended.

    Args:
        config: What to run and how to report.
        early: The handlers that note a stop from the audit's first line (``__main__``'s),
            which this run's handlers replace, or None.
    """
    import shutil
    import tempfile

    pid = os.getpid()
    # First, before gevent is imported: a stop from here on is noted (the target is then
    # not started), not lost. Nothing is patched yet, so _thread's get_ident is the real one.
    stopper = Stopper(config.duration, _thread.get_ident())
    stopper.arm(early.handlers() if early is not None else {})
    noted = early.forget() if early is not None else None  # after: nothing falls between
    if noted is not None:
        stopper.note_early(noted)
    stderr = _real_stderr()
    _sweep_folders()
    folder = tempfile.mkdtemp(prefix=f"{FOLDER_PREFIX}{pid}-")
    try:
        session = Session(config)
        audit = ProcessAudit(session, folder, config.flush_interval, _target_file(config.target))
        main = _Main(config, audit, stopper, stderr)

        def on_exit(code: int) -> None:  # os._exit, or the watchdog's: report, then clean up
            main.finish(code)
            shutil.rmtree(folder, ignore_errors=True)

        audit.on_exit = on_exit
        stopper.on_request = main.watchdog
        if stopper.noted is not None:
            main.watchdog()
        session.add_own_threads(lambda: (stopper.ident, stopper.reader))
        session.on_fork(lambda _: stopper.disarm(in_child=True))
        _follow(config, folder)
        _arm_dump(main)
        audit.start()
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    code, interrupt = _run_observed(config, stopper)
    if os.getpid() != pid:
        audit.finish(code)  # a forked child finishing the script: its part goes home
        return code
    try:
        report = main.finish(code)
    finally:  # even when the report's reader went away (a broken pipe ends with 141)
        # Only now: a stop while the report was built and written was noted, not raised.
        stopper.disarm()
        shutil.rmtree(folder, ignore_errors=True)
    if stopper.noted == signal.SIGINT and interrupt is None:
        interrupt = KeyboardInterrupt()  # Ctrl-C after the target ended: ends as one would
    elif stopper.noted == signal.SIGTERM:
        stopper.reason = "SIGTERM"
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


_STALE_AFTER = 60.0  # seconds unchanged before a dead audit's folder is removed


def _sweep_folders() -> None:
    """Remove the folders of audits whose main process was killed (SIGKILL leaves its
    folder behind): this user's, named for a pid no longer running, unchanged a minute."""
    import re
    import shutil
    import tempfile

    base = tempfile.gettempdir()
    try:
        names = os.listdir(base)
    except OSError:
        return
    pattern = re.compile(re.escape(FOLDER_PREFIX) + r"(\d+)-\w+$")
    for name in names:
        match = pattern.match(name)
        if match is None:
            continue
        path = os.path.join(base, name)
        try:
            info = os.lstat(path)
            if info.st_uid != os.getuid() or time.time() - info.st_mtime < _STALE_AFTER:
                continue
            os.kill(int(match[1]), 0)  # alive (or another user's): left alone
        except ProcessLookupError:
            shutil.rmtree(path, ignore_errors=True)
        except (OSError, ValueError, OverflowError):
            continue


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

    from ..model import build_report
    from .processes import merge, read_parts
    from .report import make_console, render_terminal

    audit, session = main.audit, main.audit.session
    try:
        with auditor_work():
            audit.flush(force=True)
            parts = [audit.part(), *read_parts(audit.folder or "", skip=os.getpid())]
            processes, findings = merge(parts, session.started_at, main.config.follow)
            report = build_report(
                target=main.config.target.display, argv=[main.config.target.value],
                exit_code=-1, duration_s=time.perf_counter() - session.started,
                patched=session.patched_modules(), findings=findings,
                stopped_by="still running", processes=processes, started_at=session.started_at)
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

    reader_gone: BrokenPipeError | None = None
    with auditor_work():
        if config.json_path is not None:
            try:
                write_json(report, config.json_path)
            except BrokenPipeError as exc:  # --json - | head: the other reports still go
                reader_gone = exc
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
    if reader_gone is not None:
        raise reader_gone  # ends quietly with 141, as every command does
