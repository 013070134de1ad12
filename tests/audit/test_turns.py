"""How a long loop turn is split among the greenlets its samples saw (no patching: the
split is a pure function of the samples; the audit's own runs test the clock)."""

from __future__ import annotations

import sys
from types import FrameType

from patchkit.audit.detectors.sampler import HUB_LOOP, NO_FRAME, Sample
from patchkit.audit.detectors.turns import segments
from patchkit.audit.frames import FrameInfo


def _frames() -> tuple[FrameType, FrameType]:
    def inner() -> FrameType:
        return sys._getframe()

    return sys._getframe(), inner()


def _at(at: float, owner: object, held: bool = False) -> Sample:
    stack = (FrameInfo("app.py", int(at * 1000), "f", "app"),)
    return Sample(at, stack, None, held, owner, held)


def test_a_turn_without_samples_is_one_part() -> None:
    assert segments(1.0, 1.2, []) == [(1.0, 1.2, None, [])]


def test_parts_meet_halfway_between_two_greenlets_samples() -> None:
    a, b = _frames()
    samples = [_at(1.010, a), _at(1.012, a), _at(1.050, b), _at(1.052, b)]
    parts = segments(1.0, 1.1, samples)
    assert [(round(s, 3), round(e, 3)) for s, e, _, _ in parts] == [(1.0, 1.031), (1.031, 1.1)]
    assert [len(group) for _, _, _, group in parts] == [2, 2]


def test_a_greenlet_holding_the_gil_began_soon_after_the_last_sample_before_it() -> None:
    a, b = _frames()
    # b computed: the sampler waited for the GIL, so its first sample came late.
    parts = segments(1.0, 1.1, [_at(1.010, a), _at(1.050, b, held=True)], period=0.002)
    assert round(parts[0][1], 4) == 1.011


def test_the_hubs_own_work_takes_almost_nothing_from_the_greenlet_beside_it() -> None:
    a, _ = _frames()
    parts = segments(1.0, 1.2, [_at(1.190, a, held=True), _at(1.199, HUB_LOOP, held=True)],
                     period=0.002)
    assert round(parts[0][1], 4) == 1.1988  # not halfway (1.1945)
    assert parts[1][3][0].owner == HUB_LOOP


def test_a_frameless_greenlet_is_a_part_of_its_own() -> None:
    a, _ = _frames()
    samples = [Sample(1.01, (), None, True, NO_FRAME), _at(1.06, a)]
    parts = segments(1.0, 1.1, samples)
    assert len(parts) == 2 and parts[0][2] is not None and parts[0][2].owner == NO_FRAME
