"""The production monitor: always on, cheap, real durations, loop lag, rate-limited events.

Turn it on without touching code, in every process that patches (``patchkit.patch_all()``,
``python -m patchkit``, or ``gevent.monkey.patch_all()`` itself, as gunicorn's gevent
worker and Celery's ``-P gevent`` do), forked workers included::

    PATCHKIT_MONITOR=1 gunicorn -k gevent -w 4 app:app
    PATCHKIT_MONITOR="threshold=0.05,log=/var/log/app/hub.jsonl" celery -A tasks worker -P gevent

or from code, on the thread that runs the hub::

    monitor = patchkit.monitor.start(threshold=0.05, log="hub.jsonl")
    ...
    monitor.stop()

Events are JSON lines (``block``, ``lag``, ``summary``); see ``docs/monitor.md``.
"""

import os as _os
import sys as _sys
from dataclasses import replace as _replace
from typing import Any as _Any

from .settings import ENV as ENV
from .settings import MonitorConfigError as MonitorConfigError
from .settings import MonitorSettings as MonitorSettings
from .settings import parse as parse

__all__ = ["ENV", "MonitorConfigError", "MonitorSettings", "parse", "start", "current",
           "from_environment"]

_state: dict[str, _Any] = {"monitor": None, "pid": None, "hooked": False}


def current() -> _Any:
    """The monitor running in this process, or None."""
    monitor = _state["monitor"]
    return monitor if monitor is not None and monitor.running else None


def _at_exit() -> None:
    monitor = current()
    if monitor is not None and _state["pid"] == _os.getpid():
        monitor.close()


def _after_fork_in_child() -> None:
    monitor = current()
    if monitor is not None:
        _state["pid"] = _os.getpid()
        monitor.after_fork_in_child()


def start(settings: MonitorSettings | None = None, **changes: _Any) -> _Any:
    """Start monitoring this process's hub (the calling thread's); returns the Monitor,
    whose ``stop()`` ends it. Already running: returns the running one.

    Args:
        settings: All settings at once, or None for the defaults.
        **changes: Single settings (``threshold=0.05``, ``log="hub.jsonl"``...).

    Raises:
        MonitorConfigError: an unknown setting.
    """
    running = current()
    if running is not None:
        return running
    try:
        settings = _replace(settings or MonitorSettings(), **changes)
    except TypeError as exc:
        raise MonitorConfigError(f"patchkit.monitor.start(): {exc}") from None
    from .core import Monitor

    monitor = Monitor(settings)
    monitor.start()
    _state.update(monitor=monitor, pid=_os.getpid())
    if not _state["hooked"]:
        import atexit

        _os.register_at_fork(after_in_child=_after_fork_in_child)
        atexit.register(_at_exit)
        _state["hooked"] = True
    return monitor


def from_environment() -> _Any:
    """Start the monitor if ``PATCHKIT_MONITOR`` asks for it; returns it, or None.

    A bad value is one line on the process's standard error and the monitor stays off:
    a service must not fail to start over its monitor's settings.
    """
    text = _os.environ.get(ENV, "").strip()
    if not text or text.lower() in ("0", "off", "false", "no"):
        return None
    try:
        return start(parse(text))
    except MonitorConfigError as exc:
        if _state.get("refused") != (_os.getpid(), text):  # said once per process
            _state["refused"] = (_os.getpid(), text)
            print(f"patchkit.monitor: {exc}; the monitor is off", file=_sys.__stderr__)
        return None
