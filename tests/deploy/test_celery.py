"""Celery's gevent pool on the suite's real redis, audited: the blocking task is found in the
worker, and the terminal report reaches the real stderr, not Celery's logger."""

from __future__ import annotations

from pathlib import Path

from services import Redis

from .conftest import (audited, celery_env, celery_worker_args, enqueue, findings_at,
                       processes_by_pid, report_lines)

TASKS = 6

def test_celery_gevent_worker_blocking_task(tmp_path: Path, redis_server: Redis) -> None:
    env = celery_env(redis_server)
    program = audited(tmp_path, "--duration", "6", "--grace", "30", *celery_worker_args(),
                      env=env)
    pids = enqueue(env, count=TASKS)
    run = program.finish(timeout=60)
    assert pids == [program.pid], pids  # -P gevent runs the tasks in the worker process itself
    # Celery owns SIGTERM, so --duration stops it with SIGINT, its quick shutdown; the
    # status is Celery's own (1 on SIGINT), passed through, as documented. On a loaded
    # 2-core machine its shutdown has taken longer than the default 5 s --grace.
    assert run.returncode == run.report["exit_code"] == 1, run.stderr[-3000:]
    report = run.report
    assert report is not None, run.stderr[-3000:]
    assert report["stopped_by"] == "--duration" and report["duration_s"] < 6 + 30
    # -P gevent forks no worker; a program it runs (Celery's banner runs `uname -p`
    # through subprocess) is no audited Python process.
    assert [p["pid"] for p in report["processes"]] == [program.pid], report["processes"]
    assert processes_by_pid(report)[program.pid]["role"] == "main"
    assert not [f for f in report["findings"] if f["kind"] == "unpatched"]
    found = findings_at(report, "tasksmod.py", "block")
    assert found and {pid for f in found for pid in f["pids"]} == {program.pid}, found
    # Every task's 80 ms is there. Tasks that ran back to back in one loop turn are told
    # apart by the sampler's looks; a task no look saw (the sampler kept off the CPU for
    # its whole 80 ms, as on CI's loaded 2 cores) is counted in its neighbour's block.
    assert sum(f["total_s"] for f in found) >= TASKS * 0.08 * 0.95, found
    assert 1 <= sum(f["count"] for f in found) <= TASKS, found
    assert max(f["max_s"] for f in found) >= 0.08, found


def test_celery_report_is_not_routed_through_its_logger(tmp_path: Path,
                                                         redis_server: Redis) -> None:
    env = celery_env(redis_server)
    program = audited(tmp_path, "--duration", "4", "--grace", "30", *celery_worker_args(),
                      env=env)
    enqueue(env, count=2)
    run = program.finish(timeout=60)
    lines = report_lines(run.stderr)
    assert lines[0].startswith("patchkit audit: -m celery"), lines[0]
    assert not [line for line in lines if "/MainProcess]" in line], "\n".join(lines)
    assert any("tasksmod.py" in line for line in lines), "\n".join(lines)
