"""Run the auditor in a subprocess on a real small program and read its JSON report."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from services import postgres  # noqa: F401  (a real PostgreSQL for the driver test)

TARGETS = Path(__file__).parent / "targets"
ROOT = Path(__file__).resolve().parents[2]


@dataclass
class AuditRun:
    """A finished audit: the process result and the parsed report (None if none written)."""

    returncode: int
    stdout: str
    stderr: str
    report: dict[str, Any] | None

    def findings(self, kind: str | None = None) -> list[dict[str, Any]]:
        assert self.report is not None, self.stderr
        return [f for f in self.report["findings"] if kind is None or f["kind"] == kind]


def _default_sigint() -> None:
    # A shell may start us with SIGINT ignored; the target must see it as python would.
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def audit_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "patchkit.audit", *args]


def start_audit(tmp_path: Path, *args: str, json_report: bool = True) -> tuple[subprocess.Popen[str], Path]:
    report = tmp_path / "report.json"
    options = ["--json", str(report)] if json_report else []
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    env.pop("GEVENT_MONITOR_THREAD_ENABLE", None)
    proc = subprocess.Popen(audit_command(*options, *args), cwd=str(TARGETS), env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=_default_sigint)
    return proc, report


def finish(proc: subprocess.Popen[str], report: Path, timeout: float = 60) -> AuditRun:
    try:
        stdout, stderr = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()  # leave no audited process behind
        proc.communicate()
        raise
    data = json.loads(report.read_text()) if report.exists() else None
    return AuditRun(proc.returncode, stdout, stderr, data)


@pytest.fixture
def audit(tmp_path: Path):
    """``audit("target.py", "--strict", ...)`` runs the auditor to completion."""

    def run(*args: str, timeout: float = 60) -> AuditRun:
        proc, report = start_audit(tmp_path, *args)
        return finish(proc, report, timeout)

    return run


def only(findings: list[dict[str, Any]], **fields: Any) -> dict[str, Any]:
    """The single finding whose fields match, with a readable failure otherwise."""
    matches = [f for f in findings if all(f.get(k) == v for k, v in fields.items())]
    # A string, not a tuple: pytest shortens the repr of anything else, and a failure under
    # load must say what was found instead.
    assert len(matches) == 1, f"{len(matches)} finding(s) match {fields}; found:\n" + \
        summarize(findings)
    return matches[0]


def summarize(findings: list[dict[str, Any]]) -> str:
    """One line per finding: what a failed assertion needs to show."""
    return "\n".join(
        f"  {f['kind']} {f.get('file') and Path(f['file']).name}:{f.get('line')} "
        f"in {f.get('function')} callee={f.get('callee')} x{f.get('count')} "
        f"total={f.get('total_s', 0):.4f} max={f.get('max_s', 0):.4f} "
        f"events={[round(e['duration_s'], 4) for e in f.get('events', [])]} "
        f"msg={(f.get('message') or '')[:90]!r}" for f in findings) or "  (none)"
