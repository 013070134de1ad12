"""Original blocking calls named the moment they happen, from PEP 578 audit events.

The stdlib raises audit events for some blocking calls, with the socket or host as
argument. Under gevent the socket handed to ``socket.connect`` is non-blocking
(``gettimeout() == 0.0``) and DNS runs on the resolver's threadpool; an original
socket is blocking (``None`` or a timeout) and an original resolver runs on the
calling thread. So an event on the hub's thread, after patching, with a blocking
socket or a DNS lookup, is an original blocking call -- named even when it takes a
millisecond. ``time.sleep`` raises an event only from Python 3.13.

Before patching the hook records *imports* instead (where each module was first
imported from), for the late-patch finding -- and while gevent's ``patch_all()`` runs,
whose lock scan can import modules through lazy objects before ``time`` is patched. Audit hooks cannot be removed, so the
hook is installed once and switched off with a flag.

The hook runs on the hub's thread inside the program's blocking call, before the call
blocks (the first time a line calls, it also reads the line's call expression from its
tokens), so the sampler can find it running: it is registered as an entry into the
auditor's own code (:func:`~patchkit.audit.guard.auditor_entry`), and a look that finds
it sees the program's line calling the original instead -- never the hook's frames.
"""

from __future__ import annotations

import sys
import types
from dataclasses import dataclass, replace
from typing import Any, Callable

from ..frames import Callee, Stack, call_expression, capture_stack
from ..guard import auditor_entry, in_auditor_work
from . import Observation

__all__ = ["AuditEvents", "ImportRecord"]

_DNS = {
    "socket.getaddrinfo": "socket.getaddrinfo",
    "socket.gethostbyname": "socket.gethostbyname",
    "socket.gethostbyaddr": "socket.gethostbyaddr",
    "socket.getnameinfo": "socket.getnameinfo",
}
_CALLS = {"time.sleep": "time.sleep", "os.system": "os.system"}
_WATCHED = frozenset({"import", "socket.connect", *_DNS, *_CALLS})


@dataclass(frozen=True, slots=True)
class ImportRecord:
    """A module first imported before patching, and the stack that imported it."""

    name: str
    stack: Stack


def _inside_patching(frame: types.FrameType | None) -> bool:
    """Whether gevent.monkey is patching further up the stack (it patches ``thread``
    before ``time``: an import in between keeps the original ``time.sleep``)."""
    for _ in range(200):
        if frame is None:
            return False
        name = frame.f_globals.get("__name__")
        if isinstance(name, str) and name.startswith("gevent.monkey"):
            return True
        frame = frame.f_back
    return False


def _importer_stack(frame: types.FrameType | None) -> Stack:
    stack = capture_stack(frame)
    return tuple(f for f in stack if not f.file.startswith("<frozen importlib"))


class AuditEvents:
    """The audit-hook detector.

    Args:
        hub_ident: OS thread id of the hub's thread.
        get_ident: The original ``_thread.get_ident`` (patching replaces it).
        patched: Returns whether patching happened yet.
        stretch_start: Returns the start of the current hub stretch.
    """

    _installed: list[AuditEvents] = []

    def __init__(self, hub_ident: int, get_ident: Callable[[], int],
                 patched: Callable[[], bool], stretch_start: Callable[[], float]) -> None:
        self.hub_ident = hub_ident
        self.get_ident = get_ident
        self.patched = patched
        self.stretch_start = stretch_start
        self.observations: list[Observation] = []
        self.imports: list[ImportRecord] = []
        self._seen_imports: set[str] = set()
        self.active = False

    def start(self) -> None:
        """Install the hook (once per process) and switch it on."""
        self.active = True
        if not AuditEvents._installed:
            sys.addaudithook(_dispatch)
        AuditEvents._installed[:] = [self]

    def stop(self) -> None:
        """Switch the hook off; idempotent."""
        self.active = False

    @classmethod
    def current_imports(cls) -> list[ImportRecord]:
        """The import records of the detector installed in this process (the hook is
        per process), or none."""
        return list(cls._installed[0].imports) if cls._installed else []

    def handle(self, event: str, args: tuple[Any, ...]) -> None:
        """Record *event* if it is an import before patching or an original blocking call."""
        if self.get_ident() != self.hub_ident or in_auditor_work():
            return
        try:
            caller = sys._getframe(2)  # handle <- _dispatch <- (C function) <- its caller
        except ValueError:
            return
        if event == "import":
            if not self.patched() or _inside_patching(caller):
                self._record_import(args[0], caller)
            return
        if not self.patched():
            return
        if event == "socket.connect":
            try:
                if args[0].gettimeout() == 0.0:
                    return  # non-blocking: gevent's socket, or the program's own choice
            except Exception:
                return
            callee, detail = Callee("socket.socket.connect", "socket", True), "blocking connect"
        elif event in _DNS:
            callee, detail = Callee(_DNS[event], "socket", True), "DNS lookup on the hub's thread"
        else:
            callee, detail = Callee(_CALLS[event], event.partition(".")[0], True), event
        callee = replace(callee, expr=call_expression(caller))
        self.observations.append(Observation(
            "blocking", capture_stack(caller), callee=callee, detail=detail,
            stretch=self.stretch_start()))

    def _record_import(self, name: Any, caller: types.FrameType) -> None:
        if not isinstance(name, str) or name in self._seen_imports:
            return
        self._seen_imports.add(name)
        self.imports.append(ImportRecord(name, _importer_stack(caller)))


def _dispatch(event: str, args: tuple[Any, ...]) -> None:
    if event in _WATCHED and AuditEvents._installed:
        detector = AuditEvents._installed[0]
        if detector.active:
            try:
                detector.handle(event, args)
            except Exception:  # an audit hook's error would surface in the audited call
                pass


auditor_entry(_dispatch.__code__)
