"""One process's share of a multi-process audit, and following the processes it starts.

:class:`ProcessAudit` drives one process's :class:`~patchkit.audit.session.Session`:
it writes the process's part to the audit's folder when it starts, every
``flush_interval`` seconds when something new was seen, and when it ends (returning,
``os._exit``, interpreter exit); in a forked child it starts over with the child's pid.
It also notes the Python children the process starts, so one that never reports is said.

Spawned Python children are followed the way coverage.py measures subprocesses: the
audit puts its settings in ``PATCHKIT_AUDIT_FOLLOW``, and a ``.pth`` start-up hook that
the package installs calls :func:`startup` in every new interpreter, which audits that
process when the variable is set (and costs one environment lookup when it is not).
"""

from __future__ import annotations

import atexit
import json
import os
import sys
import time
from dataclasses import asdict, dataclass
from typing import Any, Callable, NoReturn

from .._follow_hook import FOLLOW_ENV, FollowError
from .._follow_hook import parse as parse_follow
from .._threads import original_thread_api
from ..model import Part, ProcessInfo
from .config import DEFAULT_FLUSH
from .guard import auditor_work
from .processes import is_python, with_pid, write_part
from .session import Session, command_line

__all__ = ["FOLLOW_ENV", "FollowSettings", "ProcessAudit", "startup", "DEFAULT_FLUSH"]


@dataclass(frozen=True)
class FollowSettings:
    """What a followed child needs to audit itself and send its part home."""

    folder: str
    threshold: float
    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    flush_interval: float = DEFAULT_FLUSH
    exact: bool = False

    def encode(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def decode(cls, text: str) -> FollowSettings | None:
        """The settings in *text*, or None when it is empty or not the audit's (checked by
        :func:`patchkit._follow_hook.parse`: types, ranges, the folder's owner and mode)."""
        try:
            return cls(**parse_follow(text))  # type: ignore[arg-type]
        except FollowError:
            return None


_AUDITS: list[ProcessAudit] = []
_FIRST_FLUSH = 0.05  # seconds after a fork before the child's first part
_HOOKED = False


def _on_audit_event(event: str, args: tuple[Any, ...]) -> None:
    if event not in ("subprocess.Popen", "os.posix_spawn", "os.exec") or not _AUDITS:
        return
    try:
        argv = args[1]
        if isinstance(argv, (str, bytes)):
            argv = [argv]
        argv = [os.fsdecode(a) if isinstance(a, bytes) else str(a) for a in argv]
        if args[0] is not None:  # the executable actually run
            argv[:1] = [os.fsdecode(args[0])]
        for audit in _AUDITS:
            if audit.pid != os.getpid():
                continue
            if event == "os.exec" and audit.on_exit is not None:
                audit.on_exit(0)  # the main process execs: its report is written now
            elif event == "os.exec":
                audit.replaced_by_exec(argv if is_python(argv) else None)
            elif is_python(argv):
                audit.spawned.append(argv)
    except Exception:  # an audit hook's error would surface in the program's own call
        pass


class ProcessAudit:
    """One process's session, its part in *folder*, and its periodic flushes.

    Args:
        session: The process's detection session (not started yet).
        folder: Where every process of the audit writes its part, or None (no parts).
        sink: Instead of a folder, what takes each part written (the in-process API
            writes report files from it).
        flush_interval: Seconds between flushes.
        target_file: The program's file, for the "never patched" finding.
        on_exit: Called with the status when the process calls ``os._exit`` (its result
            is ignored); by default the final part is written.
    """

    def __init__(self, session: Session, folder: str | None,
                 flush_interval: float = DEFAULT_FLUSH, target_file: str | None = None,
                 on_exit: Callable[[int], object] | None = None,
                 sink: Callable[[Part], None] | None = None) -> None:
        self.session = session
        self.folder = folder
        self.sink = sink if sink is not None else (
            (lambda part: write_part(folder, part)) if folder is not None else None)
        self.flush_interval = flush_interval
        self.target_file = target_file
        self.on_exit = on_exit
        self.pid = os.getpid()
        self.spawned: list[list[str]] = []
        self.flusher_ident: int | None = None
        self.finished = False
        self._stop_lock: Any = None
        self._flushed: tuple[int, ...] | None = None
        self._real_exit: Callable[[int], NoReturn] | None = None
        # One writer at a time: a flush on the flusher thread must not land after the
        # final part, or after the marker of an exec, and replace it.
        self._write_lock = original_thread_api()[1]()

    def start(self) -> None:
        """Start the session, the flusher and the exit hooks; write the first part."""
        global _HOOKED
        self.session.add_own_threads(lambda: (self.flusher_ident,))
        self.session.on_fork(self._forked)
        self.session.start()
        _AUDITS.append(self)
        if not _HOOKED:
            sys.addaudithook(_on_audit_event)
            _HOOKED = True
        self._wrap_exit()
        if self.sink is not None:
            # Imported here, on the program's thread before it runs: imported by the flusher
            # thread while the program patches, importlib's module locks could become
            # gevent locks held across threads (a deadlock seen with plain gevent too).
            import tomllib  # noqa: F401  (the knowledge base's reader)

            from . import advice, collect, findings  # noqa: F401
        self._start_flusher()
        self.flush(force=True)

    def part(self, exit_code: int | None = None, ended: bool = False,
             findings: bool = True) -> Part:
        """This process's part: who it is and (unless *findings* is false) its findings so far."""
        session = self.session
        pid = os.getpid()
        found = [with_pid(f, pid) for f in session.findings(self.target_file)] \
            if findings else []
        info = ProcessInfo(pid, os.getppid(), session.role, command_line(),
                           session.started_at, time.perf_counter() - session.started,
                           exit_code, ended, session.patched_modules(), len(found))
        return Part(info, found, list(self.spawned))

    def flush(self, force: bool = False) -> None:
        """Write the part if anything new was seen since the last flush."""
        if self.sink is None or self.finished:
            return
        activity = self.session.activity()
        if not force and activity == self._flushed:
            return
        with self._write_lock:
            if self.finished:
                return
            try:
                with auditor_work():
                    # The first part says only who this process is: building findings
                    # imports the report machinery, which the program's start should not
                    # pay for.
                    self.sink(self.part(findings=self._flushed is not None))
                self._flushed = activity
            except Exception:  # a full disk or a vanished folder must not break the program
                pass

    def finish(self, exit_code: int | None) -> Part:
        """Stop everything and write the final part (idempotent: the first call wins)."""
        self._stop_flusher()
        self._unwrap_exit()
        if self in _AUDITS:
            _AUDITS.remove(self)
        if self.session.running:
            self.session.stop()
        part = self.part(exit_code, ended=True)
        with self._write_lock:
            if self.sink is not None and not self.finished:
                try:
                    self.sink(part)
                except OSError:
                    pass
            self.finished = True
        return part

    def replaced_by_exec(self, python: list[str] | None) -> None:
        """The process is about to exec another program (*python*: a Python command line).

        A forked child that execs (gevent's subprocess forks, then execs) was never a
        process of its own: its part goes. For a Python program, a marker part takes its
        place, naming the command: if the new program is followed, its own part (same
        pid) replaces the marker; if not, the marker says a child went unaudited.
        """
        self._stop_flusher()
        with self._write_lock:
            self.finished = True
            if self.folder is not None:
                self._leave_for_exec(python)

    def _leave_for_exec(self, python: list[str] | None) -> None:
        assert self.folder is not None
        try:
            if python is None:
                os.unlink(os.path.join(self.folder, f"{os.getpid()}.json"))
            else:
                info = ProcessInfo(os.getpid(), os.getppid(), "exec", python, time.time(), 0.0)
                write_part(self.folder, Part(info, [], [python]))
        except OSError:
            pass

    def _stop_flusher(self) -> None:
        if self._stop_lock is not None:
            self._stop_lock.release()
            self._stop_lock = None

    def _start_flusher(self, first: float | None = None) -> None:
        """Flush every interval on a native thread; the first time after *first* seconds."""
        if self.sink is None:
            return
        start_thread, allocate_lock, get_ident = original_thread_api()
        lock = allocate_lock()
        lock.acquire()
        self._stop_lock = lock

        def run() -> None:
            self.flusher_ident = get_ident()
            if first is not None:
                if lock.acquire(True, first):
                    return
                self.flush(force=True)
            while not lock.acquire(True, self.flush_interval):
                self.flush()

        start_thread(run, ())

    def _wrap_exit(self) -> None:
        real = os._exit

        def _exit(status: int) -> NoReturn:
            if self.pid == os.getpid() and not self.finished:
                try:
                    if self.on_exit is not None:
                        self.on_exit(status)
                    else:
                        self.finish(status)
                except BaseException:
                    pass
            real(status)

        self._real_exit = real
        os._exit = _exit

    def _unwrap_exit(self) -> None:
        if self._real_exit is not None and self.pid == os.getpid():
            os._exit = self._real_exit  # type: ignore[assignment]
            self._real_exit = None

    def _forked(self, session: Session) -> None:
        # In the child: a new pid, no flusher thread, no children of its own yet.
        self.pid = os.getpid()
        self.spawned = []
        self.flusher_ident = None
        self._stop_lock = None
        self._flushed = None
        self.on_exit = None
        self.target_file = None
        self.finished = False
        self._write_lock = original_thread_api()[1]()  # the parent's may have been held
        if self not in _AUDITS:
            _AUDITS.append(self)
        # The first part is written a moment later, from the flusher: a child that execs
        # right away (gevent's subprocess forks, then execs) never shows as a process.
        self._start_flusher(first=_FIRST_FLUSH)


def startup(settings: FollowSettings | None = None) -> None:
    """Audit this interpreter as a followed child, with *settings* (checked by the start-up
    hook, :mod:`patchkit._follow_hook`), or those in the audit's variable.

    Never raises: a child must start whether or not it can be audited.
    """
    if settings is None:
        if sys.flags.isolated:
            return
        settings = FollowSettings.decode(os.environ.get(FOLLOW_ENV, ""))
    if settings is None or _AUDITS or _is_audit():
        return
    try:
        session = Session(settings)
        session.role = "spawn"
        audit = ProcessAudit(session, settings.folder, settings.flush_interval)
        audit.start()
        atexit.register(audit.finish, None)
    except Exception:
        pass


def _is_audit() -> bool:
    """Whether this interpreter is itself ``python -m patchkit.audit`` (it reports alone)."""
    argv = list(getattr(sys, "orig_argv", ()))
    return any(a == "-m" and b == "patchkit.audit" for a, b in zip(argv, argv[1:]))
