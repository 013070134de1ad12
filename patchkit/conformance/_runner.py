"""Parent side: run one module in one column, surviving hangs and crashes, over N workers.

Each column run starts the bootstrap (``_bootstrap.py``) in a new session and reads its
events file when it ends. A hang or a crash ends that subprocess; the run starts another
one that skips every test already recorded, until the module is done, the subprocess
makes no progress, or ``MAX_RESTARTS`` is reached.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from .model import Column, ColumnRun, Outcome, TestOutcome

__all__ = ["RunOptions", "run_column", "run_all", "BOOTSTRAP", "MAX_RESTARTS"]

BOOTSTRAP = Path(__file__).with_name("_bootstrap.py")
HANG_EXIT = 86
MAX_RESTARTS = 40
# How long the parent waits, beyond the per-test timeout, for a silent child before killing
# it: the child's own watchdog thread and faulthandler should both have fired by then.
_GUARD = 30.0
_TAIL = 3000


@dataclass(frozen=True)
class RunOptions:
    """How to run each column: per-test timeout, regrtest resources, test-id filters.

    ``match`` maps a module to fnmatch patterns (or substrings) of test ids; a module
    not in it runs all its tests. ``python`` is the interpreter to run the tests with.
    ``threadpool_idle`` sets gevent's threadpool idle timeout in the children (``None``:
    gevent's default, 5 s, except for the modules in ``MODULE_THREADPOOL_IDLE``).
    """

    timeout: float = 30.0
    resources: tuple[str, ...] = ("subprocess", "walltime", "tzdata")
    match: dict[str, tuple[str, ...]] = field(default_factory=dict)
    python: str = sys.executable
    env: dict[str, str] | None = None
    threadpool_idle: float | None = None


@dataclass
class _Attempt:
    """What one subprocess left behind."""

    events: list[dict[str, Any]]
    status: int
    output: str
    fallback: str
    killed: bool


# test_socket waits after every test for the process's thread count to drop back; gevent's
# resolver runs getaddrinfo on a real threadpool thread that exits only after 5 s idle, so
# each threaded test would take ~6 s (about 40 minutes per patched column). A short idle
# timeout changes nothing the tests check. --threadpool-idle overrides it.
MODULE_THREADPOOL_IDLE = {"test_socket": 0.1}


def _child_env(options: RunOptions, module: str) -> dict[str, str]:
    env = dict(os.environ if options.env is None else options.env)
    for name in list(env):
        # The monitor thread, a forced resolver or a plugin would change what is measured.
        if name.startswith("GEVENT_") or name == "PYTHONFAULTHANDLER":
            env.pop(name)
    env["PYTHONUNBUFFERED"] = "1"
    idle = options.threadpool_idle
    if idle is None:
        idle = MODULE_THREADPOOL_IDLE.get(module)
    if idle is not None:
        env["GEVENT_THREADPOOL_IDLE_TASK_TIMEOUT"] = str(idle)
    return env


def _command(module: str, column: Column, options: RunOptions, work: Path) -> list[str]:
    cmd = [options.python, str(BOOTSTRAP), "--module", module, "--column", column,
           "--events", str(work / "events.jsonl"), "--fallback", str(work / "fallback.txt"),
           "--timeout", str(options.timeout), "--use", ",".join(options.resources),
           "--skip-file", str(work / "skip.txt")]
    for pattern in options.match.get(module, ()):
        cmd += ["--match", pattern]
    return cmd


def _read(path: Path) -> str:
    try:
        return path.read_text(errors="replace")
    except FileNotFoundError:
        return ""


def _wait(proc: subprocess.Popen[bytes], events: Path, timeout: float) -> bool:
    """Wait for *proc*; kill its session if the events file stays silent too long.

    Returns:
        Whether the harness had to kill it.
    """
    last_size, last_change = -1, time.monotonic()
    while proc.poll() is None:
        time.sleep(0.2)
        size = events.stat().st_size if events.exists() else 0
        if size != last_size:
            last_size, last_change = size, time.monotonic()
        elif time.monotonic() - last_change > timeout + _GUARD:
            _kill_session(proc)
            proc.wait()
            return True
    return False


def _kill_session(proc: subprocess.Popen[bytes]) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def _attempt(module: str, column: Column, options: RunOptions, work: Path) -> _Attempt:
    for name in ("events.jsonl", "fallback.txt", "output.txt"):
        (work / name).unlink(missing_ok=True)
    with open(work / "output.txt", "wb") as output:
        proc = subprocess.Popen(_command(module, column, options, work), stdin=subprocess.DEVNULL,
                                stdout=output, stderr=subprocess.STDOUT, cwd=work,
                                env=_child_env(options, module), start_new_session=True)
        killed = _wait(proc, work / "events.jsonl", options.timeout)
    # Grandchildren a test left behind (servers, sleepers) go with the session.
    _kill_session(proc)
    events = [json.loads(line) for line in _read(work / "events.jsonl").splitlines()
              if line.endswith("}")]
    return _Attempt(events, proc.returncode, _read(work / "output.txt")[-_TAIL:],
                    _read(work / "fallback.txt")[-_TAIL * 4:], killed)


def _describe_status(status: int) -> str:
    if status < 0:
        try:
            return f"killed by {signal.Signals(-status).name}"
        except ValueError:
            return f"killed by signal {-status}"
    return f"exit status {status}"


def _collect(attempt: _Attempt, run: ColumnRun) -> bool:
    """Add *attempt*'s outcomes to *run*; whether the module finished."""
    started: str | None = None
    for event in attempt.events:
        kind = event["ev"]
        if kind == "start":
            started = event["id"]
        elif kind == "result":
            run.outcomes.append(TestOutcome(event["id"], event["outcome"],
                                            event.get("duration", 0.0), event.get("detail", "")))
            started = None
        elif kind == "hung":
            run.outcomes.append(TestOutcome(event["id"], "hung", event["after"],
                                            f"no result after {event['after']:g} s",
                                            event["stacks"]))
            # A hang while importing the module cannot be skipped by a restart.
            return str(event["id"]).endswith("(import)")
        elif kind == "fatal":
            run.problems.append(f"could not load the tests: {event['detail']}")
            return True
        elif kind == "done":
            return True
    return _crashed(attempt, run, started)


def _crashed(attempt: _Attempt, run: ColumnRun, started: str | None) -> bool:
    """Record a subprocess that ended without ``done``; whether to stop the module."""
    how = "killed by the harness (silent)" if attempt.killed else _describe_status(attempt.status)
    stacks = (attempt.fallback + "\n--- output tail ---\n" + attempt.output).strip()
    if started is not None:
        outcome: Outcome = "hung" if attempt.killed or attempt.fallback else "crashed"
        run.outcomes.append(TestOutcome(started, outcome, 0.0, how, stacks))
        return False
    run.problems.append(f"subprocess {how} outside any test:\n{stacks[-_TAIL:]}")
    return not attempt.events or attempt.events[-1]["ev"] == "loaded"


def run_column(module: str, column: Column, options: RunOptions) -> ColumnRun:
    """Run *module*'s regression tests in *column*, restarting after hangs and crashes.

    Returns:
        Every test's outcome, in the order they ran, and any abnormal subprocess endings.
    """
    run = ColumnRun(module, column)
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix=f"pkconf-{module}-{column}-") as tmp:
        work = Path(tmp)
        while True:
            (work / "skip.txt").write_text("".join(o.test_id + "\n" for o in run.outcomes))
            before = len(run.outcomes)
            attempt = _attempt(module, column, options, work)
            finished = _collect(attempt, run)
            if finished or len(run.outcomes) == before:
                break
            if run.restarts >= MAX_RESTARTS:
                run.problems.append(f"gave up after {MAX_RESTARTS} restarts")
                break
            run.restarts += 1
    run.wall_time = round(time.monotonic() - started, 2)
    return run


def run_all(modules: list[str], options: RunOptions, jobs: int,
            columns: tuple[Column, ...], progress: Callable[[ColumnRun], None] | None = None,
            ) -> list[ColumnRun]:
    """Run every (module, column) pair on *jobs* workers; results in module then column order."""
    pairs = [(m, c) for m in modules for c in columns]
    # Longest first keeps both cores busy to the end.
    order = sorted(pairs, key=lambda p: -_COST.get(p[0], 10) - (p[1] != "unpatched"))

    def job(pair: tuple[str, Column]) -> ColumnRun:
        result = run_column(pair[0], pair[1], options)
        if progress is not None:
            progress(result)
        return result

    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        results = dict(zip(order, pool.map(job, order)))
    return [results[p] for p in pairs]


# Rough unpatched seconds per module on 2 cores, for scheduling only.
_COST = {"test_signal": 55, "test_subprocess": 35, "test_socket": 60, "test_ssl": 30,
         "test_threading": 15, "test_queue": 10, "test_selectors": 12, "test_time": 4,
         "test_select": 2}
