"""`pytest --patchkit` on whole sessions: computation vs waits, the per-call-site summary,
the session's report files, and saying something when a session hangs (issue 16).

Every case runs pytest in a subprocess through pytester (the plugin patches)."""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
import time

import pytest

from tests.plugin.test_plugin import _outcomes

pytestmark = pytest.mark.skipif(not os.path.exists("/proc/self/schedstat"),
                                reason="CPU time per block comes from Linux schedstat")

COMPUTING = """
import ctypes, hashlib, ssl
import patchkit

def test_pbkdf2():
    hashlib.pbkdf2_hmac("sha256", b"secret", b"salt", 400_000)

def test_tls_contexts():
    for _ in range(3):
        ssl.create_default_context()

def test_c_wait():
    ctypes.CDLL(None).usleep(80000)

def test_original_sleep():
    patchkit.get_original("time", "sleep")(0.08)
"""

_ARGS = ("-v", "-p", "no:cacheprovider", "-p", "no:socket")


def test_c_computation_is_reported_not_failed(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_cpu=COMPUTING)
    result = pytester.runpytest_subprocess("--patchkit", *_ARGS)
    assert _outcomes(result) == {"test_pbkdf2": "PASSED", "test_tls_contexts": "PASSED",
                                 "test_c_wait": "FAILED", "test_original_sleep": "FAILED"}
    text = result.stdout.str()
    assert "test_cpu.py:12 in test_c_wait" in text  # the C wait still fails, at its line
    # The summary names the computation, and the TLS case gets its own advice.
    assert "CPU " in text and "callee: hashlib.pbkdf2_hmac" in text
    assert "(computation: reported, not failed)" in text
    assert "build the SSL context once and reuse it" in text
    assert "computation is reported, not failed (--patchkit-cpu fails it)" in text


@pytest.mark.parametrize("how", ["option", "ini"])
def test_computation_fails_when_asked(pytester: pytest.Pytester, how: str) -> None:
    pytester.makepyfile(test_cpu=COMPUTING)
    if how == "ini":
        pytester.makeini("[pytest]\npatchkit = true\npatchkit_cpu = true\n")
        result = pytester.runpytest_subprocess(*_ARGS)
    else:
        result = pytester.runpytest_subprocess("--patchkit", "--patchkit-cpu", *_ARGS)
    assert set(_outcomes(result).values()) == {"FAILED"}, result.stdout.str()
    assert "callee: hashlib.pbkdf2_hmac" in result.stdout.str()


ONE_CAUSE = """
import patchkit

def block():
    patchkit.get_original("time", "sleep")(0.05)

def test_one():
    block()

def test_two():
    block()

def test_three():
    block()

def test_clean():
    pass
"""


def test_the_session_summary_shows_each_call_site_once(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_cause=ONE_CAUSE)
    result = pytester.runpytest_subprocess("--patchkit", *_ARGS)
    result.assert_outcomes(passed=1, failed=3)
    text = result.stdout.str()
    assert "patchkit: 1 call sites failed tests, 0 computed on the hub" in text
    site_lines = [line for line in result.outlines
                  if line.startswith("FAILED ") and "test_cause.py:4 in block" in line]
    assert len(site_lines) == 1, text
    assert "    3 tests, 3x, worst" in text
    assert "tests: test_cause.py::test_one, test_cause.py::test_two, " \
           "test_cause.py::test_three" in text


@pytest.mark.parametrize("workers", [[], ["-n", "2"]])
def test_the_report_option_writes_the_session_as_the_audits_reports(
        pytester: pytest.Pytester, workers: list[str]) -> None:
    source = ONE_CAUSE + COMPUTING
    pytester.makepyfile(test_cause=source)
    usleep = source.strip().splitlines().index("    ctypes.CDLL(None).usleep(80000)") + 1
    result = pytester.runpytest_subprocess(
        "--patchkit", "--patchkit-report", "out/session.json", "--patchkit-report",
        "out/session.html", "--patchkit-report", "out/session.sarif", *workers, *_ARGS)
    assert "patchkit: wrote out/session.json" in result.stdout.str()
    from patchkit.audit.saved import load_report

    report = load_report(str(pytester.path / "out" / "session.json"))
    sites = {(os.path.basename(f.file or ""), f.line): f for f in report.findings}
    # One site for every test's block (under load one may go unsampled: sited at its test).
    assert sites[("test_cause.py", 4)].count >= 2
    assert ("test_cause.py", usleep) in sites  # the C wait
    assert any(f.callee == "hashlib.pbkdf2_hmac" for f in report.findings)
    sarif = json.loads((pytester.path / "out" / "session.sarif").read_text())
    lines = [r["locations"][0]["physicalLocation"]["region"]["startLine"]
             for r in sarif["runs"][0]["results"]]
    assert sorted(lines) == sorted(set(lines)) and 4 in lines  # each site once, no CPU
    assert all("pbkdf2" not in json.dumps(r) for r in sarif["runs"][0]["results"])
    assert "<html" in (pytester.path / "out" / "session.html").read_text()[:500].lower()


def test_a_report_path_with_an_unknown_suffix_is_a_usage_error(
        pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_x="def test_x():\n    pass\n")
    result = pytester.runpytest_subprocess("--patchkit", "--patchkit-report", "out.txt",
                                           "-p", "no:socket")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert "--patchkit-report: 'out.txt' ends in none of .json, .html, .sarif" in \
        result.stderr.str()

    (pytester.path / "taken").write_text("a file, not a folder")
    os.mkfifo(pytester.path / "nobody.json")
    for path, message in (("taken/r.json", "is a file, not a folder"),
                          (".", "ends in none of"), ("d.json", "is a folder"),
                          ("nobody.json", "a FIFO with no reader")):
        (pytester.path / "d.json").mkdir(exist_ok=True)
        result = pytester.runpytest_subprocess("--patchkit", "--patchkit-report", path,
                                               "-p", "no:socket")
        assert result.ret == pytest.ExitCode.USAGE_ERROR, path  # at the start, not the end
        assert message in result.stderr.str(), path
        assert "passed" not in result.stdout.str()


def _read_until(proc: subprocess.Popen[bytes], needle: str, timeout: float) -> str:
    """stderr of *proc* until *needle* (and a moment more) or *timeout* seconds."""
    assert proc.stderr is not None
    seen, deadline, found_at = b"", time.monotonic() + timeout, None
    while time.monotonic() < deadline:
        if found_at is not None and time.monotonic() > found_at + 1.0:
            break
        ready, _, _ = select.select([proc.stderr], [], [], 0.2)
        if ready:
            chunk = os.read(proc.stderr.fileno(), 65536)
            if not chunk:
                break
            seen += chunk
        if found_at is None and needle.encode() in seen:
            found_at = time.monotonic()
    return seen.decode(errors="replace")


def _start(pytester: pytest.Pytester, *args: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-m", "pytest", *args, "-p", "no:cacheprovider",
                             "-p", "no:socket"], cwd=pytester.path, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, start_new_session=True)


def _stop(proc: subprocess.Popen[bytes]) -> None:
    os.killpg(proc.pid, signal.SIGKILL)  # the session and what it left running
    proc.wait()


def test_a_block_that_does_not_end_is_reported_while_it_lasts(
        pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_hang="""
        import patchkit

        def test_forever():
            patchkit.get_original("time", "sleep")(3600)
    """)
    proc = _start(pytester, "--patchkit", "--patchkit-hang", "1")
    try:
        text = _read_until(proc, "test_hang.py:4 in test_forever", timeout=60)
        assert proc.poll() is None  # still blocked: the warning came while it lasted
    finally:
        _stop(proc)
    assert "patchkit: the gevent hub has been held for" in text, text
    assert "in test_hang.py::test_forever and still is" in text
    assert "test_hang.py:4 in test_forever" in text  # the stack shows the test's line
    assert 'callee: patchkit.get_original("time", "sleep")' in text


def test_a_finished_session_that_does_not_exit_says_what_keeps_it_alive(
        pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_stuck="""
        import subprocess, threading, time

        def test_leaves_things_running():
            threading.Thread(target=time.sleep, args=(3600,), name="sleeper").start()
            test_leaves_things_running.child = subprocess.Popen(["sleep", "3600"])
    """)
    proc = _start(pytester, "--patchkit", "--patchkit-hang", "1")
    try:
        text = _read_until(proc, "active watchers", timeout=60)
        assert proc.poll() is None
    finally:
        _stop(proc)
    assert "patchkit: pytest finished 1 s ago but this process" in text, text
    assert "thread 'sleeper' (not daemon: shutdown waits for it)" in text
    assert "child process" in text and "sleep 3600" in text
    assert "in _shutdown" in text  # where the main greenlet waits
