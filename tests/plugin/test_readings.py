"""Readings behind the plugin's verdicts: CPU time per block (real schedstat, this thread),
and which package a file belongs to."""

from __future__ import annotations

import hashlib
import os
import threading
import time

import pytest

from patchkit.audit.detectors.schedstat import RunDelay

pytestmark = pytest.mark.skipif(not os.path.exists("/proc/self/schedstat"),
                                reason="Linux schedstat")


def _timed(work: object) -> float | None:
    reader = RunDelay(threading.get_native_id())
    try:
        reader.tick(time.perf_counter(), 0.0)
        start = time.perf_counter()
        work()  # type: ignore[operator]
        end = time.perf_counter()
        reader.tick(end, 0.0)
        return reader.waited(start, end)
    finally:
        reader.close()


def test_computing_in_c_reads_as_cpu() -> None:
    waited = _timed(lambda: hashlib.pbkdf2_hmac("sha256", b"x", b"salt", 200_000))
    assert waited is not None and waited < 0.01


def test_sleeping_reads_as_waiting() -> None:
    waited = _timed(lambda: time.sleep(0.05))
    assert waited is not None and waited > 0.035


def test_too_few_readings_say_nothing() -> None:
    reader = RunDelay(threading.get_native_id())
    try:
        reader.tick(time.perf_counter(), 0.0)
        time.sleep(0.02)
        start = time.perf_counter()
        time.sleep(0.01)
        # one reading long before the block, none after it: no pair times it
        assert reader.waited(start, time.perf_counter()) is None
    finally:
        reader.close()


def test_gevent_and_stdlib_files_are_not_called_app() -> None:
    import gevent.hub

    from patchkit.pytest_report import package_label

    assert package_label(None, gevent.hub.__file__) == "gevent"
    assert package_label(None, threading.__file__) == "stdlib"
    assert package_label(None, __file__) == "app"
    assert package_label("pyzmq", gevent.hub.__file__) == "pyzmq"
