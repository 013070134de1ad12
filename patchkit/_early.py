"""Stop signals noted from the audit's first line, before the runner can handle them.

``python -m patchkit.audit`` spends a few hundred milliseconds importing gevent and starting
its detectors before it can stop a target and write a report. A SIGTERM or SIGINT in that
time used to end the process with no report (or a KeyboardInterrupt traceback). The
package's ``__init__`` installs :class:`EarlyStops` as its first act when the process is that
command (``sys.orig_argv``) -- by importing this module, whose last line does it -- so only
Python's own start-up is left uncovered.
"""

from __future__ import annotations

import signal
import sys
from types import FrameType

__all__ = ["EarlyStops", "install_for_audit", "take"]

_installed: list[EarlyStops] = []


def install_for_audit() -> None:
    """Note stop signals from now on if this process is ``python -m patchkit.audit``."""
    argv = list(getattr(sys, "orig_argv", ()))
    if not _installed and any(a == "-m" and b == "patchkit.audit"
                              for a, b in zip(argv, argv[1:])):
        _installed.append(EarlyStops())


def take() -> EarlyStops | None:
    """The instance :func:`install_for_audit` installed (once), or None."""
    return _installed.pop() if _installed else None


class EarlyStops:
    """SIGTERM and SIGINT noted from the audit's first line until the runner arms its own
    handlers (importing gevent and starting the detectors take a few hundred ms): the
    runner then writes a report that says the target was stopped before it started,
    instead of the process dying with none (SIGTERM) or a KeyboardInterrupt traceback."""

    def __init__(self) -> None:
        self.noted: int | None = None
        self._previous: dict[int, signal._HANDLER] = {}
        for signum in (signal.SIGTERM, signal.SIGINT):
            if signal.getsignal(signum) in (signal.SIG_DFL, signal.default_int_handler):
                self._previous[signum] = signal.signal(signum, self._note)

    def _note(self, signum: int, frame: FrameType | None) -> None:
        if self.noted is None:
            self.noted = signum

    def restore(self) -> int | None:
        """Put the handlers back; the signal that came meanwhile, if any (the runner acts
        on it)."""
        for signum, previous in self._previous.items():
            signal.signal(signum, previous)
        self._previous = {}
        return self.noted

    def handlers(self) -> dict[int, signal._HANDLER]:
        """The handlers there were before these: the runner's own replace these at once
        and restore those at the end."""
        return dict(self._previous)

    def forget(self) -> int | None:
        """Once the runner's handlers are in place: the signal that came before they were
        (or None). These are forgotten, not restored."""
        self._previous = {}
        return self.noted

    def release(self) -> None:
        """Put the handlers back and deliver the signal that came meanwhile, if any, as it
        would have been delivered (nothing is run: a usage error, ``--render``)."""
        if self.restore() is not None:
            signal.raise_signal(self.noted or 0)


install_for_audit()
