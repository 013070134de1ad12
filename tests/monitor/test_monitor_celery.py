"""The production monitor in a real Celery ``-P gevent`` worker on the suite's real redis.

Nothing but ``PATCHKIT_MONITOR`` in the worker's environment: Celery calls
``gevent.monkey.patch_all()`` itself, and gevent's ``did_patch_all`` entry point starts the
monitor. A second worker, the same command without the variable, runs beside it on a queue
of its own, so what the monitor must not change (the worker's output, its exit status) is
compared with a real run, not with a copy of Celery's messages.
"""

from __future__ import annotations

import json
import re
import signal
import sys
from pathlib import Path
from typing import Any

from deploy.conftest import APPS, Program, celery_env, celery_worker_args, enqueue
from services import Redis

TASKS = 6
TASKS_FILE = APPS / "tasksmod.py"
TASK_BLOCKS_S = 0.08  # tasksmod.block: libc.usleep(80_000)


def _blocking_line() -> int:
    lines = TASKS_FILE.read_text().splitlines()
    return next(n for n, text in enumerate(lines, 1) if "libc.usleep(" in text)


def _events(path: Path) -> list[dict[str, Any]]:
    lines = path.read_text().splitlines() if path.exists() else []
    return [json.loads(line) for line in lines]


_VARYING = [  # what differs between any two runs of one worker: ids, times, names, numbers
    (re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"), "ID"),
    (re.compile(r"deploy-[0-9a-f]{32}"), "QUEUE"),
    (re.compile(r"plain-[0-9a-f]+@|celery@"), "NODE@"),
    (re.compile(r"0x[0-9a-f]+"), "ADDR"),
    (re.compile(r"\d+(\.\d+)?(e-?\d+)?"), "N"),
    (re.compile(r" +"), " "),
]


def _kinds(text: str) -> set[str]:
    """The output's lines with everything that varies from run to run taken out."""
    kinds = set()
    for line in text.splitlines():
        for pattern, replacement in _VARYING:
            line = pattern.sub(replacement, line)
        if line.strip():
            kinds.add(line.strip())
    return kinds


def test_celery_gevent_worker_sends_block_events_from_its_pid(tmp_path: Path,
                                                              redis_server: Redis) -> None:
    log = tmp_path / "hub.jsonl"
    argv = [sys.executable, *celery_worker_args()]
    watched_env = celery_env(redis_server)
    watched_env["PATCHKIT_MONITOR"] = f"threshold=0.03,log={log}"
    plain_env = celery_env(redis_server)  # a queue of its own
    watched = Program(argv, tmp_path, env=watched_env)
    plain = Program([*argv, "-n", f"plain-{plain_env['DEPLOY_QUEUE'][7:]}@%h"], tmp_path,
                    env=plain_env)
    assert enqueue(watched_env, TASKS) == [watched.pid]  # -P gevent: tasks run in the worker
    assert enqueue(plain_env, TASKS) == [plain.pid]
    # Celery owns SIGTERM: a warm shutdown (running tasks finish), then a normal exit, so
    # the monitor's last summary comes from its exit hook.
    for program in (watched, plain):
        program.proc.send_signal(signal.SIGTERM)
    run, baseline = watched.finish(timeout=60), plain.finish(timeout=60)

    assert run.returncode == baseline.returncode == 0, run.stderr[-3000:]
    assert _kinds(run.stdout) == _kinds(baseline.stdout), (run.stdout, baseline.stdout)
    assert _kinds(run.stderr) == _kinds(baseline.stderr), (run.stderr, baseline.stderr)
    assert "patchkit.monitor" not in run.stdout + run.stderr  # its events: in its log only

    events = _events(log)
    assert events and {e["pid"] for e in events} == {watched.pid}, events
    ours = [e for e in events if e["event"] == "block" and e["file"]
            and Path(e["file"]).name == TASKS_FILE.name]
    assert 1 <= len(ours) <= TASKS, events
    for event in ours:
        assert (event["line"], event["function"], event["callee"]) == \
            (_blocking_line(), "block", "ctypes.CDLL.usleep"), event
        assert event["stack"][0]["line"] == event["line"]  # innermost first
        # Generous bounds for a loaded machine: the real duration, not the threshold.
        # (Two tasks in one loop turn are split at the samples, to within 2 ms.)
        assert TASK_BLOCKS_S - 0.005 < event["duration_s"] < TASK_BLOCKS_S + 0.3, event
    # Every task's block is counted once in the summaries (the last one at exit), sent or
    # not; one the sampler missed on a loaded machine counts under no site.
    summaries = [e for e in events if e["event"] == "summary"]
    assert summaries, events
    rows = [r for s in summaries for r in s["sites"] if r.get("event") != "lag"]
    at_task = [r for r in rows if r.get("file") and Path(r["file"]).name == TASKS_FILE.name]
    unsited = [r for r in rows if not r.get("file")]
    assert sum(r["count"] for r in at_task + unsited) == TASKS, rows
    assert sum(r["sent"] for r in at_task) == len(ours), (rows, ours)
