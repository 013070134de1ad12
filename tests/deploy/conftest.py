"""Run real services (gunicorn, Celery, multiprocessing, subprocess children) under the audit.

Every program starts in its own session (process group) and is killed with its whole group
if it outlives its timeout, so a failing test leaves no worker behind. Programs run in the
test's tmp dir with ``apps/`` and the checkout on ``PYTHONPATH``; ports are free ones.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any, Iterator

import pytest
from audit.conftest import AuditRun, audit_command, only  # noqa: F401  (reused helpers)
from services import Redis, free_port, redis_server  # noqa: F401  (a real redis for Celery)

APPS = Path(__file__).parent / "apps"
ROOT = Path(__file__).resolve().parents[2]
LOAD = APPS / "load.py"
REPORT_HEADER = "patchkit audit:"


def deploy_env(**extra: str) -> dict[str, str]:
    """The environment of an audited program: ``apps/`` and the checkout importable."""
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(APPS), str(ROOT),
                                                      env.get("PYTHONPATH")]))
    for name in ("GEVENT_MONITOR_THREAD_ENABLE", "PATCHKIT_AUDIT_FOLLOW"):
        env.pop(name, None)
    env.update(extra)
    return env


def _default_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


_STARTED: list[Program] = []  # this test's programs, killed with their groups at teardown


@pytest.fixture(autouse=True)
def _no_program_left_behind() -> Iterator[None]:
    """Kill every program a test started, with its process group, however the test ended
    (a failed assertion before ``finish()`` would otherwise leave a server running)."""
    yield
    while _STARTED:
        program = _STARTED.pop()
        program.kill_group()
        if program.proc.returncode is None:  # never finished: reap it, close its pipes
            program.proc.kill()
            program.proc.communicate()


class Program:
    """A program started in its own process group; ``finish()`` waits for it and reads
    ``report`` (when given) as JSON."""

    def __init__(self, argv: list[str], cwd: Path, report: Path | None = None,
                 env: dict[str, str] | None = None) -> None:
        self.report = report
        self.port: int | None = None  # the port it serves, for a test that sets one
        self.proc = subprocess.Popen(argv, cwd=str(cwd), env=env or deploy_env(),
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                     start_new_session=True, preexec_fn=_default_sigint)
        _STARTED.append(self)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def kill_group(self) -> None:
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass

    def finish(self, timeout: float = 60) -> AuditRun:
        """Wait for the program; on timeout kill its group and fail with what it printed."""
        try:
            stdout, stderr = self.proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill_group()
            stdout, stderr = self.proc.communicate()
            pytest.fail(f"still running after {timeout} s; stdout:\n{stdout[-3000:]}\n"
                        f"stderr:\n{stderr[-3000:]}")
        finally:
            self.kill_group()  # whatever it left behind (an orphaned worker)
        data = None
        if self.report is not None and self.report.exists():
            data = json.loads(self.report.read_text())
        return AuditRun(self.proc.returncode, stdout, stderr, data)

    def wait_for_port(self, port: int, timeout: float = 30) -> None:
        """Wait until something accepts connections on 127.0.0.1:*port*."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                run = self.finish(5)
                pytest.fail(f"exited {run.returncode} before listening:\n{run.stderr[-3000:]}")
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                return
            except OSError:
                time.sleep(0.1)
        self.kill_group()
        pytest.fail(f"nothing listened on port {port} within {timeout} s")


def audited(tmp_path: Path, *args: str, report: str = "r.json", cwd: Path | None = None,
            env: dict[str, str] | None = None) -> Program:
    """``python -m patchkit.audit --json <tmp>/<report> ARGS...`` started in *tmp_path*."""
    path = tmp_path / report
    return Program(audit_command("--json", str(path), *args), cwd or tmp_path, path, env)


def load(port: int, *paths: str, requests: int = 24, concurrency: int = 4,
         seconds: float = 20, until_pids: int = 0) -> dict[str, Any]:
    """Run the load client process (apps/load.py) to completion; returns what it printed."""
    proc = subprocess.run([sys.executable, str(LOAD), str(port), ",".join(paths),
                           "--requests", str(requests), "--concurrency", str(concurrency),
                           "--seconds", str(seconds), "--until-pids", str(until_pids)],
                          capture_output=True, text=True, timeout=seconds + 30)
    assert proc.returncode == 0, proc.stderr
    result: dict[str, Any] = json.loads(proc.stdout)
    return result


def gunicorn_args(port: int, *extra: str) -> list[str]:
    """gunicorn's command line after ``-m gunicorn``: 2 gevent workers on *port*.

    gunicorn 27 opens a control socket at a fixed path in the home directory; parallel
    tests would share it, so it is turned off there.
    """
    import gunicorn

    args = ["-k", "gevent", "-w", "2", "-b", f"127.0.0.1:{port}", "--graceful-timeout", "5",
            *extra]
    if tuple(gunicorn.version_info) >= (27,):
        args.append("--no-control-socket")
    return [*args, "app:app"]


def processes_by_pid(report: dict[str, Any]) -> dict[int, dict[str, Any]]:
    return {entry["pid"]: entry for entry in report["processes"]}


def check_process_counts(report: dict[str, Any]) -> None:
    """Each process's ``findings`` is the number of findings that carry its pid."""
    for entry in report["processes"]:
        carried = [f for f in report["findings"] if entry["pid"] in f["pids"]]
        assert entry["findings"] == len(carried), (entry, report["findings"])


def findings_at(report: dict[str, Any], file_name: str, function: str,
                kind: str = "blocking") -> list[dict[str, Any]]:
    """Findings of *kind* whose line is in *file_name* (a base name) in *function*."""
    return [f for f in report["findings"] if f["kind"] == kind and f["file"]
            and Path(f["file"]).name == file_name and f["function"] == function]


def report_lines(stderr: str) -> list[str]:
    """The terminal report's lines: from its header line to the end of stderr."""
    lines = stderr.splitlines()
    starts = [i for i, line in enumerate(lines) if REPORT_HEADER in line]
    assert starts, f"no terminal report on stderr:\n{stderr[-3000:]}"
    return lines[starts[0]:]


def celery_env(redis: Redis) -> dict[str, str]:
    """The environment tasksmod reads: the broker, and a queue of this test's own."""
    return deploy_env(DEPLOY_REDIS_URL=redis.url, DEPLOY_QUEUE=f"deploy-{uuid.uuid4().hex}")


def celery_worker_args(app: str = "tasksmod") -> list[str]:
    """``-m celery ...``: a gevent-pool worker of *app*, with no cluster chatter."""
    return ["-m", "celery", "-A", app, "worker", "-P", "gevent", "-c", "4",
            "--without-gossip", "--without-mingle", "--without-heartbeat", "-l", "info"]


def enqueue(env: dict[str, str], count: int) -> list[int]:
    """Send *count* blocking tasks from a client process and wait for them to be done."""
    proc = subprocess.run([sys.executable, str(APPS / "enqueue.py"), str(count), "30"],
                          env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr[-3000:]
    pids: list[int] = json.loads(proc.stdout)["pids"]
    return pids
