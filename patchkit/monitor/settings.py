"""The production monitor's settings: ``PATCHKIT_MONITOR`` and ``patchkit.monitor.start()``.

``PATCHKIT_MONITOR=1`` takes every default; otherwise it is comma-separated ``key=value``
settings, e.g. ``PATCHKIT_MONITOR="threshold=0.05,log=/var/log/app/hub.jsonl,rate=5"``.
Every key is documented in ``docs/monitor.md``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields, replace
from typing import Any

from .._errors import PatchkitError

__all__ = ["ENV", "MonitorSettings", "MonitorConfigError", "parse"]

ENV = "PATCHKIT_MONITOR"


class MonitorConfigError(PatchkitError):
    """A bad ``PATCHKIT_MONITOR`` value or ``start()`` argument; the message names it."""


@dataclass(frozen=True)
class MonitorSettings:
    """How the monitor watches one process.

    Attributes:
        threshold: A loop turn that holds the hub longer than this (seconds) is reported.
        log: Where JSON lines go: a file path (appended), ``-`` or None for the standard
            error the process started with, ``off`` for none (logging or metrics only).
        rate: At most this many ``block`` events per call site per minute; the rest are
            counted into ``summary`` events.
        summary: Seconds between ``summary`` events (sent only when something was held
            back).
        stack: Frames kept per stack, innermost first.
        logging: Also send every event through the ``patchkit.monitor`` logger.
        metrics: Record prometheus_client histograms (the ``monitor`` extra).
        metrics_port: Serve them on this loopback port (prometheus_client's server).
        period: Seconds between stack samples while a loop turn is overdue.
    """

    threshold: float = 0.1
    log: str | None = None
    rate: int = 10
    summary: float = 60.0
    stack: int = 30
    logging: bool = False
    metrics: bool = False
    metrics_port: int | None = None
    period: float = 0.002

    def __post_init__(self) -> None:
        for item in fields(self):
            value = getattr(self, item.name)
            problem = _out_of_range(item.name, value)
            if problem:
                raise MonitorConfigError(f"{item.name}={value!r} {problem}")


# Each number's range: finite, and no larger than the threads' waits and the standard
# library's timeouts take (threshold=1e300 overflowed a lock's timeout and killed the
# monitor's thread). The lower bounds keep the thread from spinning.
_RANGES: dict[str, tuple[float, float]] = {
    "threshold": (0.001, 86_400.0), "summary": (0.1, 86_400.0), "period": (0.0005, 60.0),
    "rate": (0, 1_000_000), "stack": (1, 10_000), "metrics_port": (1, 65_535),
}


def _out_of_range(name: str, value: Any) -> str | None:
    """What is wrong with *value* for the number setting *name*, or None."""
    bounds = _RANGES.get(name)
    if bounds is None or value is None:
        return None
    low, high = bounds
    if isinstance(value, bool) or not isinstance(value, (int, float)) \
            or not math.isfinite(value) or not low <= value <= high:
        return f"must be a number from {low:g} to {high:g}"
    return None


_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def _convert(key: str, kind: Any, text: str) -> Any:
    text = text.strip()
    try:
        if kind in ("float", float):
            value: Any = float(text)
        elif kind in ("int", int, "int | None"):
            value = int(text)
        elif kind in ("bool", bool):
            if text.lower() not in _TRUE | _FALSE:
                raise ValueError
            value = text.lower() in _TRUE
        else:
            value = text
    except ValueError:
        raise MonitorConfigError(
            f"{ENV}: {key}={text!r} is not a valid {str(kind).split()[0]}") from None
    problem = _out_of_range(key, value)
    if problem:
        raise MonitorConfigError(f"{ENV}: {key}={text!r} {problem}")
    return value


def parse(text: str) -> MonitorSettings:
    """Settings from a ``PATCHKIT_MONITOR`` value (``1`` or ``key=value,...``).

    Raises:
        MonitorConfigError: an unknown key, a missing ``=``, or a bad value.
    """
    settings = MonitorSettings()
    text = text.strip()
    if text.lower() in _TRUE or not text:
        return settings
    known = {f.name: f.type for f in fields(MonitorSettings)}
    changes: dict[str, Any] = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        key, sep, value = item.partition("=")
        key = key.strip()
        if not sep:
            raise MonitorConfigError(f"{ENV}: {item!r} is not key=value (or set it to 1)")
        if key not in known:
            raise MonitorConfigError(f"{ENV}: unknown setting {key!r}; known: "
                                     + ", ".join(sorted(known)))
        changes[key] = _convert(key, known[key], value)
    if changes.get("metrics_port") is not None:
        changes.setdefault("metrics", True)
    return replace(settings, **changes)
