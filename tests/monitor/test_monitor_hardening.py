"""The monitor never stops or harms the service it runs in: its log is never waited for,
never followed through a planted symlink, never left with a torn line, and its numbers are
checked where they enter."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from patchkit.monitor import MonitorConfigError, MonitorSettings, parse

from .test_monitor import _env

PATCHING = """
    import patchkit
    patchkit.patch_all()
    import gevent, time
    gevent.spawn(time.sleep, 0)  # a hub that runs; nothing blocks
    gevent.sleep(0.05)
    print("done", flush=True)
"""


def _run(code: str, log: str, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    env = _env(f"threshold=0.02,log={log}")
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True,
                          text=True, timeout=timeout, env=env)


def test_a_fifo_with_no_reader_is_not_waited_for(tmp_path: Path) -> None:
    fifo = tmp_path / "hub.fifo"
    os.mkfifo(fifo)
    proc = _run(PATCHING, str(fifo), timeout=20)  # a blocking open() hung here for ever
    assert proc.returncode == 0 and proc.stdout == "done\n", proc.stderr
    assert "a FIFO with no reader" in proc.stderr
    assert stat.S_ISFIFO(fifo.stat().st_mode)


def test_a_fifo_with_a_reader_gets_the_events(tmp_path: Path) -> None:
    fifo = tmp_path / "hub.fifo"
    os.mkfifo(fifo)
    reader = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
    try:
        proc = _run(PATCHING + """
    import ctypes
    ctypes.CDLL(None).usleep(60000)  # one block
    gevent.sleep(0.01)
""", str(fifo))
        data = os.read(reader, 1 << 16).decode()
    finally:
        os.close(reader)
    assert proc.returncode == 0, proc.stderr
    assert any(json.loads(line)["event"] == "block" for line in data.splitlines())


def test_a_symlink_in_a_shared_folder_is_not_followed(tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o1777)  # as /tmp is
    victim = tmp_path / "victim"
    victim.write_text("the service's own file\n")
    (shared / "hub.jsonl").symlink_to(victim)
    proc = _run(PATCHING + "\n    import ctypes; ctypes.CDLL(None).usleep(60000)\n",
                str(shared / "hub.jsonl"))
    assert proc.returncode == 0 and "done" in proc.stdout, proc.stderr
    assert victim.read_text() == "the service's own file\n"
    assert "a symlink in a folder anyone may write to" in proc.stderr


def test_a_symlink_in_a_private_folder_is_followed(tmp_path: Path) -> None:
    (tmp_path / "logs").mkdir()
    (tmp_path / "hub.jsonl").symlink_to(tmp_path / "logs" / "hub.jsonl")
    proc = _run(PATCHING + "\n    import ctypes; ctypes.CDLL(None).usleep(60000)\n",
                str(tmp_path / "hub.jsonl"))
    assert proc.returncode == 0, proc.stderr
    assert "block" in (tmp_path / "logs" / "hub.jsonl").read_text()


def test_a_new_log_is_private_to_its_owner(tmp_path: Path) -> None:
    log = tmp_path / "hub.jsonl"
    proc = _run(PATCHING, str(log))
    assert proc.returncode == 0, proc.stderr
    assert stat.S_IMODE(log.stat().st_mode) == 0o600


def test_a_full_disk_leaves_no_torn_line_and_counts_the_loss(tmp_path: Path) -> None:
    # RLIMIT_FSIZE makes write() stop part-way at the limit, then fail (EFBIG), as a
    # full disk does (ENOSPC); the limit is raised again afterwards.
    log = tmp_path / "hub.jsonl"
    code = f"""
        import json, resource, signal
        from patchkit.monitor import parse
        from patchkit.monitor.events import Sink
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        sink = Sink(parse("log={log}"))
        sink.open()
        soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
        event = {{"event": "block", "pad": "x" * 1000}}
        sink.send(event)
        resource.setrlimit(resource.RLIMIT_FSIZE, (1500, hard))  # the 2nd line is cut
        sink.send(event)
        sink.send(event)
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
        sink.send({{"event": "summary", "n": 4}})
        print(sink.lost)
    """
    proc = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True,
                          text=True, timeout=30, env=_env(None))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["2"]
    lines = log.read_text().splitlines()
    assert [json.loads(line)["event"] for line in lines] == ["block", "summary"]


@pytest.mark.parametrize("value", ["inf", "-inf", "nan", "1e300", "0", "-1"])
def test_non_finite_and_absurd_numbers_are_refused(value: str) -> None:
    with pytest.raises(MonitorConfigError, match=r"PATCHKIT_MONITOR: threshold=.* must be"):
        parse(f"threshold={value}")
    with pytest.raises(MonitorConfigError, match="must be a number from"):
        MonitorSettings(threshold=float(value))


@pytest.mark.parametrize("setting", ["summary=inf", "period=1e300", "rate=10000000000",
                                     "stack=0", "metrics_port=70000"])
def test_every_number_has_a_range(setting: str) -> None:
    with pytest.raises(MonitorConfigError, match="must be a number from"):
        parse(setting)


def test_an_infinite_threshold_from_the_environment_leaves_the_program_running(
        tmp_path: Path) -> None:
    env = _env("threshold=inf")
    proc = subprocess.run([sys.executable, "-c", textwrap.dedent(PATCHING)], text=True,
                          capture_output=True, timeout=30, env=env)
    assert proc.returncode == 0 and proc.stdout == "done\n"
    assert "Traceback" not in proc.stderr
    assert "threshold='inf' must be a number" in proc.stderr and "the monitor is off" in proc.stderr


_KEYS = ["threshold", "log", "rate", "summary", "stack", "logging", "metrics", "metrics_port",
         "period", "nope", ""]
_VALUES = st.one_of(st.text(max_size=12), st.sampled_from(
    ["inf", "-inf", "nan", "1e300", "0", "-1", "1", "0.05", "yes", "off", "", "=", ",", "1e-9"]),
    st.floats(allow_nan=True, allow_infinity=True).map(repr), st.integers().map(str))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(st.text(max_size=60), st.lists(st.tuples(st.sampled_from(_KEYS), _VALUES),
                                                  max_size=6).map(
    lambda items: ",".join(f"{k}={v}" for k, v in items))))
def test_fuzz_the_monitor_setting_parser(text: str) -> None:
    """Whatever PATCHKIT_MONITOR says: settings within their ranges, or MonitorConfigError."""
    import math

    try:
        settings = parse(text)
    except MonitorConfigError:
        return
    for name in ("threshold", "summary", "period"):
        assert math.isfinite(getattr(settings, name)) and getattr(settings, name) > 0
    assert 0 <= settings.rate <= 1_000_000 and 1 <= settings.stack <= 10_000
