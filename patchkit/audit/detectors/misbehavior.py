"""Misbehaviour after patching: gevent and greenlet errors, and native threads left running.

gevent reports a greenlet's uncaught error through ``Hub.handle_error`` (wrapped
once ``gevent.hub`` is imported -- through :func:`patchkit._deferred.when_imported`, which
leaves wrapt unimported when gevent.hub already is), the main greenlet's
through ``sys.excepthook``, a native thread's through ``threading.excepthook``. Each
wrapper records the error if it is one of gevent's misuse errors (``LoopExit``,
``BlockingSwitchOutError``, ``ConcurrentObjectUseError``, ...) or a greenlet
cross-thread error, then calls what it wraps: nothing is swallowed or changed.

Native threads alive when patching first happens keep running as OS threads with the
original primitives; those still alive at exit are reported. gevent's own threads (its
threadpool, which the default resolver uses, and its monitor) are native by design and
left out, and so is every thread noted at a later patch (a library patcher applied at
its import): threads running then may have been started by gevent after patching.
"""

from __future__ import annotations

import sys
import threading
import types
from typing import Any, Callable

from ..frames import FrameInfo, Stack, capture_stack, current_frames
from . import Observation

__all__ = ["Misbehavior", "classify_error"]

_GEVENT_ERRORS = ("LoopExit", "BlockingSwitchOutError", "InvalidSwitchError",
                  "ConcurrentObjectUseError", "InvalidThreadUseError")


def classify_error(kind: type[BaseException], value: BaseException | None) -> str | None:
    """A short name for gevent/greenlet misuse errors, None for the program's own errors."""
    gevent_exceptions = sys.modules.get("gevent.exceptions")
    for name in _GEVENT_ERRORS:
        cls = getattr(gevent_exceptions, name, None)
        if isinstance(cls, type) and issubclass(kind, cls):
            return name
    greenlet_module = sys.modules.get("greenlet")
    error = getattr(greenlet_module, "error", None)
    if isinstance(error, type) and issubclass(kind, error):
        return "greenlet.error"
    return None


def _traceback_stack(tb: types.TracebackType | None) -> Stack:
    """The frames above the handler plus every traceback entry, outermost first.

    Walks the traceback itself: gevent's compiled frames do not link ``f_back`` to
    the Python frames that called them.
    """
    if tb is None:
        return ()
    stack = list(capture_stack(tb.tb_frame.f_back))
    while tb is not None:
        code = tb.tb_frame.f_code
        stack.append(FrameInfo(code.co_filename, tb.tb_lineno or code.co_firstlineno,
                               code.co_qualname, tb.tb_frame.f_globals.get("__name__")))
        tb = tb.tb_next
    return tuple(stack)


_ENGINE = frozenset({"gevent", "greenlet", "patchkit"})


def _is_engine_thread(frame: types.FrameType) -> bool:
    """Whether the thread whose innermost frame is *frame* was started by gevent (or
    patchkit): its outermost frame is their code (``gevent.threadpool``'s worker)."""
    while frame.f_back is not None:
        frame = frame.f_back
    name = frame.f_globals.get("__name__")
    return isinstance(name, str) and name.partition(".")[0] in _ENGINE


def _thread_site(thread: Any) -> FrameInfo | None:
    """Where a native thread's code is: its target function, when it has one."""
    target = getattr(thread, "_target", None) or getattr(type(thread), "run", None)
    code = getattr(target, "__code__", None)
    if code is None:
        return None
    return FrameInfo(code.co_filename, code.co_firstlineno, code.co_qualname,
                     getattr(target, "__module__", None))


class Misbehavior:
    """Records gevent/greenlet misuse errors and native threads that outlive patching.

    Args:
        skip_idents: Returns OS thread ids to leave out (the hub's and the auditor's).
    """

    def __init__(self, skip_idents: Callable[[], set[int]]) -> None:
        self.skip_idents = skip_idents
        self.observations: list[Observation] = []
        self._threads: dict[int, tuple[str, FrameInfo | None]] = {}
        self._undo: list[Callable[[], None]] = []
        self._noted = False
        self.active = False

    def start(self) -> None:
        """Install the excepthook wrappers and the post-import hook on gevent.hub."""
        from ..._deferred import when_imported

        self.active = True
        previous_sys, previous_threading = sys.excepthook, threading.excepthook
        previous_unraisable = sys.unraisablehook

        def sys_hook(kind: Any, value: Any, tb: Any) -> None:
            self.record(kind, value, tb, "uncaught in the main greenlet")
            previous_sys(kind, value, tb)

        def threading_hook(args: Any) -> None:
            self.record(args.exc_type, args.exc_value, args.exc_traceback, "in a thread")
            previous_threading(args)

        def unraisable_hook(args: Any) -> None:
            self.record(args.exc_type, args.exc_value, args.exc_traceback, "in a thread")
            previous_unraisable(args)

        sys.excepthook, threading.excepthook = sys_hook, threading_hook
        sys.unraisablehook = unraisable_hook
        self._undo.append(lambda: setattr(sys, "unraisablehook", previous_unraisable))
        self._undo.append(lambda: setattr(sys, "excepthook", previous_sys))
        self._undo.append(lambda: setattr(threading, "excepthook", previous_threading))
        when_imported("gevent.hub", self._wrap_hub)

    def _wrap_hub(self, module: Any) -> None:
        import functools

        import greenlet  # type: ignore[import-untyped]

        if not self.active:
            return  # gevent.hub was imported after the audit ended
        original = module.Hub.__dict__["handle_error"]

        # A plain method, not a wrapt FunctionWrapper: importing wrapt (~20 ms, and it
        # imports ssl and asyncio) is the largest part of starting the auditor.
        @functools.wraps(original)
        def handle_error(hub: Any, *args: Any, **kwargs: Any) -> Any:
            if len(args) == 4:
                where = "in a greenlet" if isinstance(args[0], greenlet.greenlet) else \
                    "in a hub callback"
                self.record(args[1], args[2], args[3], where)
            return original(hub, *args, **kwargs)

        module.Hub.handle_error = handle_error
        self._undo.append(lambda: setattr(module.Hub, "handle_error", original))

    def record(self, kind: Any, value: Any, tb: Any, where: str) -> None:
        """Record an error if it is gevent/greenlet misuse."""
        if not self.active or not isinstance(kind, type):
            return
        name = classify_error(kind, value)
        if name is not None:
            text = str(value).strip().splitlines()
            self.observations.append(Observation(
                "misbehavior", _traceback_stack(tb),
                detail=f"{name} {where}: {text[0] if text else kind.__name__}"))

    def on_patch(self) -> None:
        """Note the native threads running when patching first happens, except gevent's
        own (call on the hub's thread); later calls note nothing."""
        if self._noted:
            return
        self._noted = True
        skip = self.skip_idents()
        for ident, frame in current_frames().items():
            if ident in skip or ident in self._threads:
                continue
            thread = threading._active.get(ident)  # type: ignore[attr-defined]
            # A threading.Thread is the program's even when its current greenlet is a
            # hub (gevent.sleep in a native thread); gevent starts its own with _thread.
            if thread is None and _is_engine_thread(frame):
                continue
            name = thread.name if thread is not None else f"0x{ident:x}"
            self._threads[ident] = (name, _thread_site(thread))

    def stop(self) -> None:
        """Undo the wrappers and report threads from before patching still alive; idempotent."""
        if not self.active:
            return
        self.active = False
        for undo in reversed(self._undo):
            undo()
        self._undo.clear()
        frames = current_frames()
        for ident, (name, site) in self._threads.items():
            if ident in frames:
                self.observations.append(Observation(
                    "misbehavior", capture_stack(frames[ident]), site=site,
                    detail=f"native thread {name!r} started before patching is still running"))
