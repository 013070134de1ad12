"""Bad input is refused before the target runs; however the target ends, a report is written."""

from __future__ import annotations

import json
import os
import signal
import subprocess

import pytest

from .conftest import ROOT, TARGETS, audit_command, finish, only, start_audit


def _refused(*args: str, cwd: str = str(TARGETS)) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(audit_command(*args), cwd=cwd, capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 2, proc
    assert proc.stdout == ""
    assert "Traceback" not in proc.stderr
    usage, error = proc.stderr.strip().splitlines()  # as argparse: usage, then the error
    assert usage.startswith("usage: python -m patchkit.audit [options]"), proc.stderr
    assert error.startswith("python -m patchkit.audit: error: "), proc.stderr
    return proc


def test_missing_script():
    assert "no_such_script.py" in _refused("no_such_script.py").stderr


def test_missing_module():
    assert "no_such_module_xyz" in _refused("-m", "no_such_module_xyz").stderr


def test_no_target():
    _refused("--strict")


def test_unknown_option():
    assert "--frobnicate" in _refused("--frobnicate", "coop_echo.py").stderr


@pytest.mark.parametrize("value", ["0", "-1", "soon"])
def test_bad_threshold(value):
    _refused("--threshold", value, "coop_echo.py")


def test_unwritable_report_path_is_refused_before_the_target_runs(tmp_path):
    marker = tmp_path / "ran"
    script = tmp_path / "target.py"
    script.write_text(f"open({str(marker)!r}, 'w').close()\n")
    missing = tmp_path / "no" / "such" / "folder" / "r.json"
    _refused("--json", str(missing), str(script))
    _refused("--json", str(tmp_path), str(script))
    if os.geteuid() != 0:  # root writes anywhere
        locked = tmp_path / "locked"
        locked.mkdir(mode=0o500)
        _refused("--json", str(locked / "r.json"), str(script))
    assert not marker.exists()


def test_syntax_error_in_target(audit):
    run = audit("syntax_error.py")
    assert run.returncode == 1
    assert "SyntaxError" in run.stderr and str(ROOT / "patchkit") + os.sep not in run.stderr
    assert run.report["exit_code"] == 1


def test_target_raising_keeps_its_traceback_and_the_report(audit):
    run = audit("raises.py")
    assert run.returncode == 1
    assert "RuntimeError: target failed on purpose" in run.stderr
    traceback = run.stderr.split("Traceback", 1)[1].split("RuntimeError")[0]
    assert str(ROOT / "patchkit") + os.sep not in traceback  # its folder: a clone may be named patchkit
    assert run.report["exit_code"] == 1
    block = only(run.findings("blocking"))
    assert block["function"] == "worker" and block["callee"] == "time.sleep"


def test_exit_code_passes_through(audit):
    run = audit("exits3.py")
    assert run.returncode == 3 and run.report["exit_code"] == 3
    block = only(run.findings("blocking"))
    assert block["line"] == 11 and block["max_s"] >= 0.08


def test_strict_fails_when_something_was_found(audit):
    assert audit("--strict", "cpu_hog.py").returncode == 1
    assert audit("--strict", "coop_echo.py").returncode == 0
    assert audit("--strict", "exits3.py").returncode == 3


def test_include_and_exclude(audit):
    run = audit("--exclude", "urllib3", "requests_early.py")
    assert {f["package"] for f in run.findings()} == {None}
    run = audit("--include", "urllib3", "requests_early.py")
    assert {f["package"] for f in run.findings()} == {"urllib3"}
    assert audit("--exclude", "app", "cpu_hog.py").findings() == []


def test_json_to_stdout(tmp_path):
    proc = subprocess.run(audit_command("--json", "-", "--quiet", "cpu_hog.py"), cwd=TARGETS,
                          capture_output=True, text=True, timeout=60)
    report = json.loads(proc.stdout)
    assert report["schema"] == "patchkit.audit/2" and proc.stderr == ""


def _wait_ready(proc: subprocess.Popen[str]) -> None:
    line = proc.stdout.readline()
    assert line.startswith("READY"), (line, proc.stderr.read() if proc.poll() is not None else "")


@pytest.mark.parametrize("signum,code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_signal_stops_the_target_and_writes_the_report(tmp_path, signum, code):
    proc, report = start_audit(tmp_path, "server.py")
    _wait_ready(proc)
    proc.send_signal(signum)
    run = finish(proc, report)
    assert run.returncode == -signum
    assert "server closing" in run.stdout  # the target's finally blocks ran
    assert run.report["exit_code"] == code and run.report["findings"] == []


@pytest.mark.parametrize("name,signum,code", [("TERM", signal.SIGTERM, 143),
                                              ("INT", signal.SIGINT, 130)])
@pytest.mark.parametrize("caller", ["python", "C"])
def test_a_signal_handled_in_the_hubs_own_code_still_stops_the_target(tmp_path, name, signum,
                                                                        code, caller):
    # The race behind an intermittent exit 1: the stop raised in the hub greenlet ended the
    # hub, and the target's finally block then failed switching to it (InvalidSwitchError).
    # "C": the handler's frame is Hub.run's own, off its loop.run() line (as when a signal
    # lands as Hub.run starts, where Python 3.12+ checks for signals).
    proc, report = start_audit(tmp_path, "signal_in_hub.py", name, *([caller] if caller == "C" else []))
    run = finish(proc, report)
    assert run.returncode == -signum, run.stderr
    assert "target finally" in run.stdout and "not stopped" not in run.stdout
    assert "InvalidSwitchError" not in run.stderr
    assert run.report["exit_code"] == code and run.report["findings"] == []


def test_duration_stops_a_server(tmp_path):
    proc, report = start_audit(tmp_path, "--duration", "0.5", "server.py")
    run = finish(proc, report, timeout=30)
    assert run.returncode == 0, run.stderr
    assert "server closing" in run.stdout
    assert run.report["exit_code"] == 0 and 0.5 <= run.report["duration_s"] < 10
    assert "stopped by --duration" in run.stderr


def test_module_target_and_argv(audit, tmp_path):
    run = audit("-m", "http.server", "--help")
    assert run.returncode == 0 and "usage" in run.stdout
    assert run.report["target"] == "-m http.server"
    assert run.report["argv"] == ["http.server", "--help"]
    assert run.findings("unpatched")


def test_terminal_report_is_plain_and_in_whole_lines_when_not_a_tty(audit):
    run = audit("stale_sleep.py")
    assert "\x1b[" not in run.stderr
    assert "your code" in run.stderr and "stale-reference" in run.stderr
    # Piped (CI logs, grep), each message and fix is one line, never wrapped at 80 columns...
    lines = run.stderr.splitlines()
    assert ("    fix: import stale_helper after patch_all(), or call time.sleep through its "
            "module at call time so the patched version runs") in lines, run.stderr
    # ...and a group's heading rule stays 80 columns wide.
    rules = [line for line in lines if line.startswith("your code")]
    assert rules and all(len(line) == 80 for line in rules), run.stderr


def test_json_to_stdout_stays_pure_json_when_the_target_prints(tmp_path):
    script = tmp_path / "chatty.py"
    script.write_text("import os, subprocess, sys\n"
                      "print('from print')\n"
                      "sys.stdout.flush()\n"
                      "os.write(1, b'from fd 1\\n')\n"
                      "subprocess.run([sys.executable, '-c', 'print(\"from a child\")'])\n")
    proc = subprocess.run(audit_command("--json", "-", str(script)), cwd=tmp_path,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)  # nothing but the report on stdout
    assert report["schema"] == "patchkit.audit/2" and report["exit_code"] == 0
    # The program's own stdout went to stderr, in order, before the terminal report.
    err = proc.stderr
    assert err.index("from print") < err.index("from fd 1") < err.index("from a child") \
        < err.index("patchkit audit:")


def test_forked_child_does_not_write_the_report(audit):
    run = audit("forks.py")
    assert sorted(run.stdout.split()) == ["child", "parent"]
    assert run.returncode == 0 and run.report["exit_code"] == 0
    assert run.stderr.count("patchkit audit:") == 1


def test_stdin_and_stdout_belong_to_the_target(tmp_path):
    report = tmp_path / "r.json"
    proc = subprocess.run(audit_command("--json", str(report), "stdin_echo.py"), cwd=TARGETS,
                          input="hello\nworld\n", capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0 and proc.stdout == "HELLO\nWORLD\n"
    assert json.loads(report.read_text())["findings"] == []
