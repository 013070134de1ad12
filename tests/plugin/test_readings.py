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

    from patchkit.pytest_plugin.failures import package_label

    assert package_label(None, gevent.hub.__file__) == "gevent"
    assert package_label(None, threading.__file__) == "stdlib"
    assert package_label(None, __file__) == "app"
    assert package_label("pyzmq", gevent.hub.__file__) == "pyzmq"


def _recorded(*readings: tuple[float, float, float]) -> RunDelay:
    """A reader holding these ``(time, cpu, delay)`` readings (ms) and no file."""
    reader = RunDelay(-1)  # no such thread: nothing is read, only what is recorded
    for at, cpu, delay in readings:
        reader.record(at / 1000, cpu / 1000, delay / 1000)
    return reader


def test_a_delay_counted_only_after_the_block_is_not_a_wait() -> None:
    # 100 ms of computing, the last 34 ms of it queued for a CPU: the sampler's reading
    # at 90 ms (the thread queued) has not counted that delay yet; the thread's own
    # reading just after the block, at 100.1 ms, has.
    reader = _recorded((0, 0, 0), (40, 30, 10), (66, 50, 16), (90, 50, 16), (100.1, 66, 34))
    waited = reader.waited(0.0, 0.1)
    assert waited is not None and waited < 0.002


def test_a_delay_counted_by_later_readings_is_owed_to_the_block() -> None:
    # Same, but the first reading after the block is the sampler's again, still short of
    # the delay; the next one brings it in (more busy time than time elapsed).
    reader = _recorded((0, 0, 0), (40, 30, 10), (66, 50, 16), (101, 50, 16), (111, 60, 50))
    waited = reader.waited(0.0, 0.1)
    assert waited is not None and waited < 0.002


def test_a_real_wait_still_reads_as_waiting() -> None:
    # 10 ms of computing, then 80 ms in which neither CPU time nor run delay grew.
    reader = _recorded((0, 0, 0), (10, 9, 1), (50, 9, 1), (90, 9, 1), (100.5, 10, 1.2),
                       (110, 19, 1.2))
    waited = reader.waited(0.0, 0.1)
    assert waited is not None and waited > 0.075


def _computing(start: float, count: int, cpu: float = 0.0) -> list[tuple[float, float, float]]:
    """Readings every 10 ms of a thread that runs 9.5 ms of each 10 (ms): the rest is the
    GIL handed to the thread taking the readings."""
    return [(start + 10 * i, cpu + 9.5 * i, 0.0) for i in range(count)]


def test_gil_hand_overs_in_a_long_computation_are_not_a_wait() -> None:
    # 2 s of computing: 100 ms of hand-over gaps in all, more than any threshold.
    reader = _recorded(*_computing(0, 201))
    waited = reader.waited(0.0, 2.0)
    assert waited is not None and waited < 0.001


def test_a_wait_inside_a_long_computation_is_still_a_wait() -> None:
    # 1 s of computing, 40 ms in which the thread never ran, 1 s of computing again.
    before = _computing(0, 101)
    after = _computing(1040, 101, cpu=before[-1][1])
    waited = _recorded(*before, *after).waited(0.0, 2.04)
    assert waited is not None and 0.035 < waited < 0.045


def test_delay_before_a_block_is_not_taken_from_it() -> None:
    # A block from 500 to 580 ms at a program's start on a loaded machine: the starved
    # sampler's last reading before it is at 0 ms, before 400 ms of queued imports. That
    # delay lay outside the block; counted inside, it made the 80 ms block vanish.
    reader = _recorded((0, 0, 0), (600, 150, 400))
    delay = reader.within(0.5, 0.58)
    assert delay is not None and delay == 0.0


def test_delay_inside_a_closely_read_block_is_counted() -> None:
    # Readings every 2 ms through a 40 ms stretch in which the thread queued 30 ms.
    readings = [(100 + 2 * i, 0.5 * i, 1.5 * i) for i in range(21)]
    delay = _recorded((99.5, 0, 0), *readings).within(0.1, 0.14)
    assert delay is not None and 0.028 <= delay <= 0.0305


def test_readings_inside_a_block_bound_its_delay_when_the_bracket_is_wide() -> None:
    # A 30 ms stretch, 24 ms of it queued for a CPU, read every 2 ms from 4 ms in; the last
    # reading before it is 100 ms earlier (the sampler slept while turns were young).
    inside = [(504 + 2 * i, 0.2 * i, 1.6 * i) for i in range(13)]
    reader = _recorded((400, 0, 0), *inside, (531, 3, 22))
    delay = reader.within(0.5, 0.53)
    assert delay is not None and delay >= 0.019  # the block's 30 ms less 19: under 20 ms
