"""Independent observers of an audited program, each emitting raw :class:`Observation`s.

Detectors only record; turning observations into findings (aggregation, package
attribution, advice) happens later in :mod:`patchkit.audit.findings`, on data, after
the target finished. Every detector has ``start()``/``stop()`` and a list of
observations; ``stop()`` is safe to call twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from ..frames import Callee, FrameInfo, Stack

if TYPE_CHECKING:  # (the monitor imports the detectors, and needs nothing of the model)
    from ...model import Kind

__all__ = ["Detector", "Observation"]


class Detector(Protocol):
    """What a session asks of each detector it runs."""

    def start(self) -> None:
        """Start observing; call on the hub's thread."""

    def stop(self) -> None:
        """Stop observing (safe to call twice); what was observed stays readable."""


@dataclass(slots=True)
class Observation:
    """One raw sighting, before aggregation.

    Attributes:
        kind: The finding kind it will become.
        stack: Where it was seen, outermost frame first.
        duration: Seconds the hub was held, or None when the sighting was not timed
            (an audit event for a call shorter than the threshold, a stale binding).
        callee: What the innermost interesting frame was calling, when known.
        module, name, original: For a stale reference: the holding module, the name
            it is bound to, and the original it holds (``"time.sleep"``).
        detail: A short description of what was seen (an event name, an exception).
        site: An explicit call site, for sightings without a useful stack.
        cpu: The hub was held by Python bytecode, not by a call into a callee.
        stretch: Start (perf_counter) of the hub stretch (or loop turn) it happened in,
            to join an audit event with the timed block of the same call.
        started: When a timed block began, when not at ``stretch`` (a part of a loop
            turn shared by several greenlets).
    """

    kind: Kind
    stack: Stack = ()
    duration: float | None = None
    callee: Callee | None = None
    module: str | None = None
    name: str | None = None
    original: str | None = None
    detail: str = ""
    site: FrameInfo | None = None
    cpu: bool = False
    stretch: float | None = None
    started: float | None = None
