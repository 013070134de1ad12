"""Children of an audited program: multiprocessing (fork, spawn, forkserver) and a Python program
started with subprocess are audited and land in the parent's report, each with its pid."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from .conftest import APPS, AuditRun, audited, findings_at, processes_by_pid


def _pids(stdout: str, tag: str) -> list[int]:
    return [int(pid) for pid in re.findall(rf"^{tag} (\d+)", stdout, re.M)]


def _checked(run: AuditRun) -> dict:
    assert run.returncode == 0, run.stderr[-3000:]
    assert "Traceback" not in run.stderr, run.stderr[-3000:]
    assert run.report is not None and run.report["schema"] == "patchkit.audit/2", run.stderr
    return run.report


@pytest.mark.parametrize("method,patcher,role", [("fork", "patchkit", "fork"),
                                                 ("spawn", "patchkit", "spawn"),
                                                 ("fork", "gevent", "fork"),
                                                 ("spawn", "gevent", "spawn"),
                                                 ("forkserver", "patchkit", "fork")])
def test_multiprocessing_children(tmp_path: Path, method: str, patcher: str, role: str) -> None:
    program = audited(tmp_path, "mp_children.py", method, patcher, cwd=APPS)
    run = program.finish(timeout=60)
    report = _checked(run)
    children = _pids(run.stdout, "CHILD")
    assert len(children) == 2 and _pids(run.stdout, "PARENT") == [program.pid], run.stdout
    processes = processes_by_pid(report)
    assert processes[program.pid]["role"] == "main"
    for pid in children:
        entry = processes.get(pid)
        assert entry is not None, (pid, processes)
        assert entry["role"] == role, entry
        if method == "forkserver":  # forked by the fork server, a spawned child of the parent
            server = processes[entry["ppid"]]
            assert server["role"] == "spawn" and server["ppid"] == program.pid, server
        else:
            assert entry["ppid"] == program.pid, entry
        assert entry["ended"] is True, entry
        # A fork's status is its own os._exit code; a spawned interpreter's may be unknown.
        assert entry["exit_code"] in ((0,) if role == "fork" else (0, None)), entry
        assert entry["findings"] >= 1 and "socket" in entry["patched"], entry
    found = findings_at(report, "mp_children.py", "child_work")
    assert found and {pid for f in found for pid in f["pids"]} == set(children), found
    assert {event["pid"] for f in found for event in f["events"]} == set(children), found
    assert not [f for f in report["findings"] if f["kind"] in ("unpatched", "unaudited-process")]


def test_subprocess_python_child_is_followed(tmp_path: Path) -> None:
    program = audited(tmp_path, "sub_parent.py", cwd=APPS)
    run = program.finish(timeout=60)
    report = _checked(run)
    (child,) = _pids(run.stdout, "CHILD")
    entry = processes_by_pid(report)[child]
    assert entry["role"] == "spawn" and entry["ppid"] == program.pid, entry
    assert any(arg.endswith("sub_child.py") for arg in entry["argv"]), entry
    assert entry["ended"] is True and entry["exit_code"] in (0, None), entry
    assert entry["findings"] >= 1, entry
    found = findings_at(report, "sub_child.py", "child_work")
    assert found and {pid for f in found for pid in f["pids"]} == {child}, found
    assert not [f for f in report["findings"] if f["kind"] == "unaudited-process"]


def test_subprocess_python_child_with_no_follow(tmp_path: Path) -> None:
    program = audited(tmp_path, "--no-follow", "sub_parent.py", cwd=APPS)
    run = program.finish(timeout=60)
    report = _checked(run)
    (child,) = _pids(run.stdout, "CHILD")
    assert child not in processes_by_pid(report)
    assert not findings_at(report, "sub_child.py", "child_work")
    unaudited = [f for f in report["findings"] if f["kind"] == "unaudited-process"]
    assert len(unaudited) == 1, report["findings"]
    assert "sub_child.py" in unaudited[0]["message"] and unaudited[0]["fix"], unaudited[0]
    assert "1 child process" in unaudited[0]["message"], unaudited[0]
