"""The production monitor's settings: ``PATCHKIT_MONITOR`` and ``patchkit.monitor.start()``.

``PATCHKIT_MONITOR=1`` takes every default; otherwise it is comma-separated ``key=value``
settings, e.g. ``PATCHKIT_MONITOR="threshold=0.05,log=/var/log/app/hub.jsonl,rate=5"``.
Every key is documented in ``docs/monitor.md``.
"""

from __future__ import annotations

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


_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def _convert(key: str, kind: Any, text: str) -> Any:
    text = text.strip()
    try:
        if kind in ("float", float):
            value: Any = float(text)
            if not value > 0:
                raise ValueError
        elif kind in ("int", int, "int | None"):
            value = int(text)
            if value < 0:
                raise ValueError
        elif kind in ("bool", bool):
            if text.lower() not in _TRUE | _FALSE:
                raise ValueError
            value = text.lower() in _TRUE
        else:
            value = text
    except ValueError:
        raise MonitorConfigError(
            f"{ENV}: {key}={text!r} is not a valid {str(kind).split()[0]} "
            "(numbers must be more than 0)") from None
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
