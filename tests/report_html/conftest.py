"""Reports built in memory (any size, no run) and real audits run in a subprocess."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Iterator

import pytest
from services import unavailable

from patchkit.audit.findings import Finding, HubBlock, StackFrame
from patchkit.audit.report import Report

from .chromium import Browser, find_chromium

ROOT = Path(__file__).resolve().parents[2]
SCHEMA_FILE = Path(__file__).parent / "sarif-schema-2.1.0.json"

__all__ = ["ROOT", "SCHEMA_FILE", "synthetic_report", "audit_cmd"]

_CALLEES = ["time.sleep", "socket.socket.recv", "ctypes.CDLL.usleep", None,
            "psycopg2.extensions.cursor.execute"]


def synthetic_report(findings: int, events_each: int = 1, root: Path = ROOT) -> Report:
    """A report with *findings* blocking findings (plus one of each other kind when > 0),
    spread over 40 files in *root*, each with *events_each* timed blocks."""
    items = []
    clock = 0.0
    for index in range(findings):
        file = str(root / "app" / f"mod{index % 40}.py")
        stack = [StackFrame(str(root / "app" / "main.py"), 10 + index % 7, "main"),
                 StackFrame(str(root / "app" / "jobs.py"), 20 + index % 13, f"job{index % 13}"),
                 StackFrame(file, 5 + index, f"work{index}")]
        events = []
        for _ in range(events_each):
            duration = 0.021 + (index * 7919 % 100) / 1000
            events.append(HubBlock(clock, duration))
            clock += duration + 0.003
        total = sum(e.duration_s for e in events)
        items.append(Finding(
            kind="blocking", file=file, line=5 + index, function=f"work{index}",
            package=None if index % 3 else f"lib{index % 5}", callee=_CALLEES[index % 5],
            count=events_each, total_s=total, max_s=max(e.duration_s for e in events),
            module=None, name=None, original=None, stack=stack,
            message="a blocking call <held> the hub & \"more\"", fix="use gevent's threadpool",
            events=events))
    if findings:
        items.append(Finding(
            kind="stale-reference", file=str(root / "app" / "util.py"), line=3,
            function="<module>", package=None, callee=None, count=1, total_s=0.0, max_s=0.0,
            module="app.util", name="sleep", original="time.sleep", stack=[],
            message="app.util.sleep holds the original time.sleep", fix="import it later"))
        items.append(Finding(
            kind="unpatched", file=None, line=None, function=None, package=None, callee=None,
            count=1, total_s=0.0, max_s=0.0, module=None, name=None, original=None, stack=[],
            message="the program never patched", fix="patchkit.patch_all() first"))
    items.sort(key=lambda f: -f.total_s)
    return Report("app/main.py", ["app/main.py", "--port", "0"], 0, clock + 0.5,
                  ["socket", "time"], items, python="3.11.7", gevent="24.2.1")


def audit_cmd(*args: str) -> list[str]:
    return [sys.executable, "-m", "patchkit.audit", *args]


def run_audit(*args: str, cwd: Path = ROOT, timeout: float = 90) -> subprocess.CompletedProcess[str]:
    """``python -m patchkit.audit ARGS`` in a subprocess, killed on timeout."""
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    env.pop("GEVENT_MONITOR_THREAD_ENABLE", None)
    env["PYTHONFAULTHANDLER"] = "1"  # a hang is aborted with every thread's stack
    proc = subprocess.Popen(audit_cmd(*args), cwd=cwd, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        stdout, stderr = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGABRT)
        stdout, stderr = proc.communicate()
        raise AssertionError(f"the audit hung for {timeout} s; its threads:\n{stderr[-6000:]}") \
            from None
    return subprocess.CompletedProcess(proc.args, proc.returncode, stdout, stderr)


@pytest.fixture(scope="session")
def example_reports(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """One real audit of the bundled example (run from the project root), writing JSON and
    SARIF; HTML tests re-render its JSON with ``--render``."""
    out = tmp_path_factory.mktemp("example")
    paths = {"json": out / "report.json", "sarif": out / "report.sarif"}
    proc = run_audit("--json", str(paths["json"]), "--sarif", str(paths["sarif"]), "-q",
                     "-m", "examples.blocking_app")
    assert proc.returncode == 0, proc.stderr
    return paths


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Headless Chromium for one test module (unavailable here, it skips; in CI it fails)."""
    binary = find_chromium()
    if binary is None:
        unavailable("chromium is not installed (apt-get install chromium)")
    chrome = Browser(binary)
    try:
        yield chrome
    finally:
        chrome.close()
