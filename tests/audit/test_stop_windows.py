"""A stop that lands while the audit sets up, or after the target ended, still gets its
report and the documented exit status; no temporary folder is left behind.

The signal is sent at a chosen moment from inside the audited process: a
``sitecustomize`` starts a thread that waits for a module to be imported (patchkit's
first one: the audit is setting up; the report's: the target has ended) and then signals
the process, so the test does not depend on how fast a loaded machine starts Python.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

SITE = """
    import os, signal, sys, threading, time

    def _send(module, signum):
        deadline = time.monotonic() + 20
        while module not in sys.modules and time.monotonic() < deadline:
            time.sleep(0.0005)
        os.kill(os.getpid(), signum)

    module, signum = os.environ["STOP_AT"].split(":")
    threading.Thread(target=_send, args=(module, int(signum)), daemon=True).start()
"""
TARGET = 'print("the target ran", flush=True)\n'


def _audit(tmp_path: Path, stop_at: str | None, *options: str) -> subprocess.CompletedProcess[str]:
    site = tmp_path / "site"
    site.mkdir(exist_ok=True)
    (site / "sitecustomize.py").write_text(textwrap.dedent(SITE))
    (tmp_path / "ok.py").write_text(TARGET)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(site), str(ROOT)]),
               TMPDIR=str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir(exist_ok=True)
    env.pop("PATCHKIT_AUDIT_FOLLOW", None)
    if stop_at is None:
        env["STOP_AT"] = "never.imported:0"
    else:
        env["STOP_AT"] = stop_at
    return subprocess.run([sys.executable, "-m", "patchkit.audit", "-q", "--json", "r.json",
                           *options, "ok.py"], cwd=tmp_path, env=env, capture_output=True,
                          text=True, timeout=60)


def _report(tmp_path: Path, proc: subprocess.CompletedProcess[str]) -> dict:
    path = tmp_path / "r.json"
    assert path.exists(), f"no report; exit {proc.returncode}\n{proc.stderr}"
    return json.loads(path.read_text())


def _no_folder_left(tmp_path: Path) -> None:
    assert [p.name for p in (tmp_path / "tmp").iterdir()] == []


# While the audit package imports (before gevent), while the runner is imported, as the
# runner starts (it imports gevent.monkey for the original thread API),
# and while the detectors start (they import the knowledge base).
SET_UP = ["patchkit.audit.config", "patchkit.audit.runner", "gevent.monkey", "patchkit.knowledge"]


@pytest.mark.parametrize("module", SET_UP)
@pytest.mark.parametrize("signum, status, exit_code", [
    (signal.SIGTERM, -signal.SIGTERM, 143), (signal.SIGINT, -signal.SIGINT, 130)])
def test_a_stop_while_the_audit_sets_up(tmp_path: Path, signum: int, status: int,
                                        exit_code: int, module: str) -> None:
    proc = _audit(tmp_path, f"{module}:{int(signum)}")
    assert proc.returncode == status, proc.stderr
    assert "the target ran" not in proc.stdout  # stopped before it started
    report = _report(tmp_path, proc)
    assert report["exit_code"] == exit_code
    assert "Traceback (most recent call last)" not in proc.stderr
    _no_folder_left(tmp_path)


@pytest.mark.parametrize("signum, status", [(signal.SIGTERM, -signal.SIGTERM),
                                            (signal.SIGINT, -signal.SIGINT)])
def test_a_stop_after_the_target_ended(tmp_path: Path, signum: int, status: int) -> None:
    # The report's module is imported only once the target has ended.
    proc = _audit(tmp_path, f"patchkit.audit.report:{int(signum)}")
    assert "the target ran" in proc.stdout
    assert proc.returncode == status, proc.stderr
    assert _report(tmp_path, proc)["exit_code"] == 0
    _no_folder_left(tmp_path)


def test_a_duration_shorter_than_the_set_up(tmp_path: Path) -> None:
    proc = _audit(tmp_path, None, "--duration", "0.001")
    assert proc.returncode == 0, proc.stderr
    report = _report(tmp_path, proc)
    assert report["exit_code"] == 0 and report["stopped_by"] == "--duration"
    _no_folder_left(tmp_path)


def test_os_exit_leaves_no_folder(tmp_path: Path) -> None:
    (tmp_path / "tmp").mkdir()
    (tmp_path / "exits.py").write_text("import os\nos._exit(3)\n")
    env = dict(os.environ, PYTHONPATH=str(ROOT), TMPDIR=str(tmp_path / "tmp"))
    env.pop("PATCHKIT_AUDIT_FOLLOW", None)
    proc = subprocess.run([sys.executable, "-m", "patchkit.audit", "-q", "--json", "r.json",
                           "exits.py"], cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 3, proc.stderr
    assert _report(tmp_path, proc)["exit_code"] == 3
    _no_folder_left(tmp_path)


def test_a_killed_audits_folder_is_swept_by_the_next(tmp_path: Path) -> None:
    (tmp_path / "tmp").mkdir()
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)
    stale = Path(tempfile.mkdtemp(prefix=f"patchkit-audit-{dead.stdout.strip()}-",
                                  dir=tmp_path / "tmp"))
    (stale / "123.json").write_text("{}")
    os.utime(stale, (0, 0))  # long unchanged
    alive = Path(tempfile.mkdtemp(prefix=f"patchkit-audit-{os.getpid()}-", dir=tmp_path / "tmp"))
    os.utime(alive, (0, 0))
    proc = _audit(tmp_path, None)
    assert proc.returncode == 0, proc.stderr
    assert [p.name for p in (tmp_path / "tmp").iterdir()] == [alive.name]


def test_a_program_ended_after_the_grace_period_leaves_no_folder(tmp_path: Path) -> None:
    (tmp_path / "tmp").mkdir()
    (tmp_path / "stuck.py").write_text(
        "import signal, time\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
        "signal.signal(signal.SIGINT, signal.SIG_IGN)\n"
        "while True:\n    time.sleep(0.05)\n")
    env = dict(os.environ, PYTHONPATH=str(ROOT), TMPDIR=str(tmp_path / "tmp"))
    env.pop("PATCHKIT_AUDIT_FOLLOW", None)
    proc = subprocess.run([sys.executable, "-m", "patchkit.audit", "-q", "--json", "r.json",
                           "--duration", "0.5", "--grace", "0.5", "stuck.py"], cwd=tmp_path,
                          env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 124, proc.stderr
    assert _report(tmp_path, proc)["exit_code"] == 124
    _no_folder_left(tmp_path)


def test_a_report_whose_reader_went_away_leaves_no_folder(tmp_path: Path) -> None:
    (tmp_path / "tmp").mkdir()
    (tmp_path / "ok.py").write_text(TARGET)
    env = dict(os.environ, PYTHONPATH=str(ROOT), TMPDIR=str(tmp_path / "tmp"))
    env.pop("PATCHKIT_AUDIT_FOLLOW", None)
    read, write = os.pipe()
    os.close(read)  # the terminal report's reader is gone before it is written
    try:
        proc = subprocess.run([sys.executable, "-m", "patchkit.audit", "--json", "r.json",
                               "ok.py"], cwd=tmp_path, env=env, stdout=subprocess.DEVNULL,
                              stderr=write, timeout=60)
    finally:
        os.close(write)
    assert proc.returncode == 141
    assert _report(tmp_path, proc)["exit_code"] == 0
    _no_folder_left(tmp_path)
