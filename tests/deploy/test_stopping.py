"""Stopping and where the report goes: a stop while the hub is stuck in C for good ends the
process within a grace period with a report; a program that replaced sys.stderr still gets
the terminal report on its real standard error (descriptor 2)."""

from __future__ import annotations

import signal
import time
from pathlib import Path

import pytest

from .conftest import APPS, audited, findings_at, report_lines

STOP_AFTER = 2.0
GRACE_BOUND = 20.0  # a sanity bound on stop + grace period + report, not a timing claim


@pytest.mark.parametrize("how,mode", [("--duration", "pause"), ("--duration", "mutex"),
                                      ("SIGTERM", "mutex"), ("SIGINT", "mutex")])
def test_stop_while_the_hub_is_stuck_in_c(tmp_path: Path, how: str, mode: str) -> None:
    # The signal cases also shorten the grace period (default 5 s) with --grace.
    options = ["--duration", str(STOP_AFTER)] if how == "--duration" else ["--grace", "1"]
    program = audited(tmp_path, *options, "stuck_in_c.py", mode, cwd=APPS)
    assert program.proc.stdout is not None
    assert program.proc.stdout.readline().strip() == "STUCK"
    started = time.monotonic()
    if how != "--duration":
        time.sleep(STOP_AFTER)
        program.proc.send_signal(getattr(signal, how))
    run = program.finish(timeout=STOP_AFTER + GRACE_BOUND + 10)
    took = time.monotonic() - started
    assert took < STOP_AFTER + GRACE_BOUND, took
    assert run.report is not None, run.stderr[-3000:]  # the report is written
    assert report_lines(run.stderr)
    stuck = findings_at(run.report, "stuck_in_c.py", "stuck")
    assert stuck and max(f["max_s"] for f in stuck) >= 1.0, run.report["findings"]
    expected = EXPECTED_EXIT[how, mode]
    assert (run.returncode, run.report["exit_code"]) == expected, (run.stderr[-3000:])


STUCK = 124  # docs/audit.md: the program did not stop within the grace period (as timeout(1))

# (process status, report exit_code): a stop that reaches Python (pause() returns to run the
# signal handler) ends as any --duration does; a process still stuck in C after the grace
# period is ended by the auditor with STUCK, its report written first.
EXPECTED_EXIT = {
    ("--duration", "pause"): (0, 0),
    ("--duration", "mutex"): (STUCK, STUCK),
    ("SIGTERM", "mutex"): (STUCK, STUCK),
    ("SIGINT", "mutex"): (STUCK, STUCK),
}


@pytest.mark.parametrize("mode", ["prefix", "swallow"])
def test_report_reaches_the_real_stderr(tmp_path: Path, mode: str) -> None:
    program = audited(tmp_path, "own_stderr.py", mode, cwd=APPS)
    run = program.finish(timeout=60)
    assert run.returncode == 0, run.stderr[-3000:]
    if mode == "prefix":
        assert "LOGGED: hello from the program" in run.stderr  # the program's own lines
    else:
        assert "hello from the program" not in run.stderr
    lines = report_lines(run.stderr)
    assert lines[0].startswith("patchkit audit: "), lines[0]
    assert not [line for line in lines if line.startswith("LOGGED:")], "\n".join(lines)
    assert any("own_stderr.py" in line for line in lines), "\n".join(lines)
    assert findings_at(run.report or {"findings": []}, "own_stderr.py", "work")
