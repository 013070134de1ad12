"""`pytest --patchkit`, driven through pytester in subprocesses (the plugin patches)."""

from __future__ import annotations

import pytest

BLOCKING = """
import ctypes, socket, time
import pytest
import patchkit

def test_cooperative():
    time.sleep(0.05)

def test_original_sleep():
    patchkit.get_original("time", "sleep")(0.06)

def test_ctypes_call():
    ctypes.CDLL(None).usleep(60000)

def test_swallows_everything():
    try:
        patchkit.get_original("time", "sleep")(0.06)
    except BaseException:
        pass

def test_original_socket(slow_server):
    sock = patchkit.get_original("socket", "socket")()
    sock.settimeout(10)
    sock.connect(slow_server)
    sock.recv(1)
    sock.close()

@pytest.mark.allow_blocking
def test_marked():
    patchkit.get_original("time", "sleep")(0.06)

@pytest.mark.allow_blocking("requests")
def test_marked_for_another_package():
    patchkit.get_original("time", "sleep")(0.06)

@pytest.mark.allow_blocking(max_duration=5)
def test_marked_short():
    patchkit.get_original("time", "sleep")(0.06)

def test_findings_fixture(patchkit_findings):
    patchkit.get_original("time", "sleep")(0.06)
    found = patchkit_findings()
    assert ("blocking", 40) in [(f.kind, f.line) for f in found]

def test_gil_holding_call():
    # PyDLL keeps the GIL: the sampler cannot look, only the switch clock times it.
    ctypes.PyDLL(None).usleep(60000)
"""

CONFTEST = """
import pytest
import patchkit

@pytest.fixture
def slow_server():
    # A loopback server answering after 60 ms, on a *native* thread with the original
    # socket: a greenlet server would never run while the test blocks the hub.
    socket_cls = patchkit.get_original("socket", "socket")
    sleep = patchkit.get_original("time", "sleep")
    start = patchkit.get_original("_thread", "start_new_thread")
    listener = socket_cls()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    def serve():
        conn, _ = listener.accept()
        sleep(0.06)
        conn.sendall(b"x")
        conn.close()
    start(serve, ())
    yield listener.getsockname()
    listener.close()
"""


def _outcomes(result: pytest.RunResult) -> dict[str, str]:
    out = {}
    for line in result.outlines:
        for word in ("PASSED", "FAILED", "ERROR"):
            if f" {word}" in line and "::" in line:
                out[line.split("::")[1].split()[0]] = word
    return out


def test_blocking_tests_fail_with_their_line(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(CONFTEST)
    pytester.makepyfile(test_block=BLOCKING)
    result = pytester.runpytest_subprocess("--patchkit", "-v", "-p", "no:cacheprovider", "-p", "no:socket")
    assert _outcomes(result) == {
        "test_cooperative": "PASSED", "test_original_sleep": "FAILED",
        "test_ctypes_call": "FAILED", "test_swallows_everything": "FAILED",
        "test_original_socket": "FAILED", "test_marked": "PASSED",
        "test_marked_for_another_package": "FAILED", "test_marked_short": "PASSED",
        "test_findings_fixture": "PASSED", "test_gil_holding_call": "FAILED"}
    text = result.stdout.str()
    assert "test_block.py:9 in test_original_sleep" in text
    assert "test_block.py:12 in test_ctypes_call" in text
    assert "test_block.py:16 in test_swallows_everything" in text
    assert "test_block.py:24 in test_original_socket" in text
    # Its line when the sampler looked right after the GIL came back, else its def line.
    assert ("test_block.py:46 in test_gil_holding_call" in text
            or "test_block.py:44 in test_gil_holding_call" in text)
    assert "fix:" in text
    assert "patchkit: patched os, threading" in text


def test_without_the_option_nothing_changes(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(CONFTEST)
    pytester.makepyfile(test_block=BLOCKING.replace(
        "def test_findings_fixture", "def _unused"))
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-p", "no:socket")
    result.assert_outcomes(passed=9)
    assert "patchkit:" not in result.stdout.str()


def test_without_the_option_the_plugin_imports_nothing(pytester: pytest.Pytester) -> None:
    # The entry point loads patchkit.pytest_plugin in every pytest run; without --patchkit
    # it must not import gevent (or patchkit's core, which would) into the test process.
    pytester.makepyfile(test_imports="""
        import sys

        def test_nothing_imported():
            assert "patchkit.pytest_plugin" in sys.modules
            assert "gevent" not in sys.modules and "patchkit._core" not in sys.modules
    """)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-p", "no:socket")
    result.assert_outcomes(passed=1)


def test_ini_enables_and_allows(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\npatchkit = true\npatchkit_allow =\n    test_ini.py:4\n")
    pytester.makepyfile(test_ini="""
        import patchkit
        def test_allowed_line():
            sleep = patchkit.get_original("time", "sleep")
            sleep(0.06)
        def test_other_line():
            patchkit.get_original("time", "sleep")(0.06)
    """)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-p", "no:socket")
    result.assert_outcomes(passed=1, failed=1)


def test_fixture_scopes_count_against_the_requesting_test(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_scopes="""
        import pytest, patchkit
        block = lambda: patchkit.get_original("time", "sleep")(0.06)

        @pytest.fixture(scope="session")
        def session_res():
            block()
            yield
            block()

        @pytest.fixture(scope="module")
        def module_res():
            block()
            yield

        def test_first(session_res):
            pass

        def test_second(module_res):
            pass

        def test_clean():
            pass
    """)
    result = pytester.runpytest_subprocess("--patchkit", "-v", "-p", "no:cacheprovider", "-p", "no:socket")
    outcomes = _outcomes(result)
    assert outcomes["test_first"] == "FAILED"
    assert outcomes["test_second"] == "FAILED"
    # The session fixture's teardown blocks after the last test: an error on that test.
    assert "ERROR at teardown of test_clean" in result.stdout.str()
    assert "in session_res" in result.stdout.str()


def test_bad_threshold_and_marker_are_usage_errors(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_x="def test_x():\n    pass\n")
    result = pytester.runpytest_subprocess("--patchkit", "--patchkit-threshold", "fast",
                                           "-p", "no:socket")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert "--patchkit-threshold: 'fast' is not a number of seconds" in result.stderr.str()
    for option, value in (("--patchkit-threshold", "inf"), ("--patchkit-hang", "inf"),
                          ("--patchkit-hang", "nan"), ("--patchkit-threshold", "1e300"),
                          ("--patchkit-threshold", "0")):
        result = pytester.runpytest_subprocess("--patchkit", option, value, "-p", "no:socket")
        assert result.ret == pytest.ExitCode.USAGE_ERROR, (option, value)
        assert f"{option}: '{value}' must be a number from" in result.stderr.str()
        assert "Traceback" not in result.stderr.str()
    pytester.makepyfile(test_x="""
        import pytest
        @pytest.mark.allow_blocking(max_seconds=1)
        def test_x():
            pass
    """)
    result = pytester.runpytest_subprocess("--patchkit", "-p", "no:socket")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert "unknown argument max_seconds" in result.stderr.str()


def _xdist_outcomes(pytester: pytest.Pytester) -> tuple[pytest.RunResult, dict[str, str]]:
    pytester.makeconftest(CONFTEST)
    pytester.makepyfile(test_block=BLOCKING)
    result = pytester.runpytest_subprocess("--patchkit", "-n", "2", "-v", "-p", "no:cacheprovider",
                                           "-p", "no:socket")
    outcomes = {line.split("::")[1].strip(): next(w for w in line.split() if w.isupper())
                for line in result.outlines if line.startswith("[gw") and "::" in line}
    return result, outcomes


def test_xdist_workers_are_patched_and_cooperative_tests_pass(pytester: pytest.Pytester) -> None:
    result, outcomes = _xdist_outcomes(pytester)
    assert "tests run patched in the xdist workers" in result.stdout.str()
    assert len(outcomes) == 10, result.stdout.str()
    for name in ("test_cooperative", "test_marked", "test_marked_short"):
        assert outcomes[name] == "PASSED", outcomes


def test_xdist_workers_fail_every_blocking_test(pytester: pytest.Pytester) -> None:
    _, outcomes = _xdist_outcomes(pytester)
    blocking = ("test_original_sleep", "test_ctypes_call", "test_swallows_everything",
                "test_original_socket", "test_marked_for_another_package",
                "test_gil_holding_call")
    assert [outcomes[name] for name in blocking] == ["FAILED"] * len(blocking), outcomes


def test_pytest_socket_undoing_the_patch_is_reported(pytester: pytest.Pytester) -> None:
    pytest.importorskip("pytest_socket")
    pytester.makepyfile(test_sock="""
        import socket
        def test_one():
            assert socket.socket.__module__.startswith("gevent")
        def test_two():
            assert socket.socket.__module__.startswith("gevent")
    """)
    result = pytester.runpytest_subprocess("--patchkit", "-p", "no:cacheprovider")
    assert "socket.socket was restored to the unpatched original" in result.stdout.str()
    assert "-p no:socket" in result.stdout.str()
