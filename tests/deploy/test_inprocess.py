"""The in-process API recipes of docs/servers.md, run with the real programs (no
``python -m patchkit.audit`` in front): each worker writes its own report, and the reports
merge into one with ``--render a.json b.json --json merged.json``."""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from services import Redis, unavailable

from .conftest import (APPS, Program, audit_command, celery_env, celery_worker_args,
                       deploy_env, enqueue, findings_at, free_port, gunicorn_args, load,
                       processes_by_pid)


def _read(path: Path) -> dict[str, Any]:
    assert path.exists(), f"no report at {path}: {sorted(p.name for p in path.parent.iterdir())}"
    report: dict[str, Any] = json.loads(path.read_text())
    assert report["schema"] == "patchkit.audit/2", report
    return report


def _merge(tmp_path: Path, parts: list[Path]) -> dict[str, Any]:
    merged = tmp_path / "merged.json"
    proc = subprocess.run(audit_command("--render", *map(str, parts), "--json", str(merged),
                                        "--quiet"),
                          cwd=tmp_path, capture_output=True, text=True, timeout=60,
                          env=deploy_env())
    assert proc.returncode == 0, proc.stderr
    return _read(merged)


def test_gunicorn_recipe_post_fork_and_worker_exit(tmp_path: Path) -> None:
    port = free_port()
    program = Program([sys.executable, "-m", "gunicorn", "-c", str(APPS / "gunicorn.conf.py"),
                       *gunicorn_args(port)], tmp_path)
    program.wait_for_port(port)
    served = load(port, "/block", "/cpu", requests=16, until_pids=2, seconds=4)
    program.proc.send_signal(signal.SIGTERM)
    run = program.finish(timeout=60)
    assert run.returncode == 0 and "Traceback" not in run.stderr, run.stderr[-3000:]
    workers = {int(pid) for path in served["served"].values() for pid in path}
    blocked = {int(pid) for pid in served["served"]["/block"]}
    assert len(workers) == 2, served
    parts = sorted(tmp_path.glob("audit-*.json"))
    assert {int(p.stem.split("-")[1]) for p in parts} == workers  # the master writes none
    counts = 0
    for pid in workers:
        report = _read(tmp_path / f"audit-{pid}.json")
        assert pid in processes_by_pid(report), report["processes"]
        assert not [f for f in report["findings"] if f["kind"] == "unpatched"]
        found = findings_at(report, "app.py", "block")
        assert bool(found) == (pid in blocked), (pid, report["findings"])
        assert all(f["pids"] == [pid] for f in found), found
        counts += sum(f["count"] for f in found)
    merged = _merge(tmp_path, parts)
    assert workers <= set(processes_by_pid(merged)), merged["processes"]
    found = findings_at(merged, "app.py", "block")
    assert {pid for f in found for pid in f["pids"]} == blocked, found
    assert sum(f["count"] for f in found) == counts >= len(blocked)


def test_celery_recipe_worker_init_and_worker_shutdown(tmp_path: Path,
                                                       redis_server: Redis) -> None:
    env = celery_env(redis_server)
    program = Program([sys.executable, *celery_worker_args("tasksaudit")], tmp_path, env=env)
    pids = enqueue(env, count=4)
    assert pids == [program.pid], pids
    program.proc.send_signal(signal.SIGTERM)  # Celery's warm shutdown sends worker_shutdown
    run = program.finish(timeout=60)
    assert run.returncode == 0, run.stderr[-3000:]
    report = _read(tmp_path / f"celery-audit-{program.pid}.json")
    assert processes_by_pid(report)[program.pid]["ended"] is True
    assert not [f for f in report["findings"] if f["kind"] == "unpatched"]
    found = findings_at(report, "tasksmod.py", "block")
    assert found and all(f["pids"] == [program.pid] for f in found), report["findings"]
    # Every task's 80 ms is there. Tasks that ran back to back in one loop turn are told
    # apart by the sampler's looks; one no look saw (the sampler kept off the CPU for its
    # whole 80 ms on a loaded machine) is counted in its neighbour's block, as in
    # test_celery.py.
    assert sum(f["total_s"] for f in found) >= 4 * 0.08 * 0.95, found
    assert 1 <= sum(f["count"] for f in found) <= 4, found


def _uwsgi() -> str:
    """The uwsgi binary installed beside this interpreter (pip's uwsgi package, compiled)."""
    found = shutil.which("uwsgi", path=str(Path(sys.executable).parent))
    if found is None:
        unavailable(f"uwsgi is not installed beside {sys.executable} (pip install uwsgi: "
                    "it compiles, needs a C compiler)")
    return found


def test_uwsgi_recipe_postfork_and_atexit(tmp_path: Path) -> None:
    port = free_port()
    program = Program([_uwsgi(), "--master", "--processes", "2", "--gevent", "100",
                       "--gevent-early-monkey-patch", "--http-socket", f"127.0.0.1:{port}",
                       "--module", "uwsgi_app:app", "--pythonpath", str(APPS),
                       "--die-on-term", "--disable-logging"], tmp_path)
    program.wait_for_port(port)
    served = load(port, "/block", "/cpu", requests=16, until_pids=2, seconds=4)
    program.proc.send_signal(signal.SIGTERM)
    run = program.finish(timeout=60)
    assert "Traceback" not in run.stderr, run.stderr[-3000:]
    workers = {int(pid) for path in served["served"].values() for pid in path}
    blocked = {int(pid) for pid in served["served"]["/block"]}
    assert len(workers) == 2, served
    parts = sorted(tmp_path.glob("uwsgi-audit-*.json"))
    assert {int(p.stem.rsplit("-", 1)[1]) for p in parts} == workers
    for pid in workers:
        report = _read(tmp_path / f"uwsgi-audit-{pid}.json")
        assert not [f for f in report["findings"] if f["kind"] == "unpatched"]
        found = findings_at(report, "app.py", "block")
        assert bool(found) == (pid in blocked), (pid, report["findings"])
    merged = _merge(tmp_path, parts)
    found = findings_at(merged, "app.py", "block")
    assert {pid for f in found for pid in f["pids"]} == blocked, found


@pytest.mark.parametrize("setting", [{"threshold": float("inf")}, {"threshold": float("nan")},
                                     {"threshold": 0}, {"flush_interval": 1e300},
                                     {"flush_interval": 0}])
def test_start_refuses_non_finite_and_absurd_numbers(setting: dict) -> None:
    from patchkit.audit import start
    from patchkit.audit.config import ConfigError

    with pytest.raises(ConfigError, match="must be a number from"):
        start(**setting)  # refused before anything starts: nothing to stop
