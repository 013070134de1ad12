"""execnet (pytest-xdist's transport): keep its gateway threads on native primitives.

An execnet worker starts a native I/O thread before any patching can happen; afterwards
its ``ThreadExecModel`` would hand out gevent's Event/RLock/queue (it imports
``threading`` at call time), and a native thread setting a gevent Event ends in
``LoopExit``. This patcher makes the thread execmodel use the originals that patching
replaced (and an Event a greenlet can wait on cooperatively), so an xdist worker keeps
working once patched.
"""

from __future__ import annotations

from typing import Any, Callable

from ..registry import PatcherSpec, Setting

def _original(module: str, name: str) -> Any:
    import patchkit

    return patchkit.get_original(module, name)


class _CooperativeEvent:
    """An Event a native thread sets and a greenlet waits on without blocking the hub.

    gevent's Event cannot be set from a native thread while the waiting greenlet is the
    only one (LoopExit); a native Event would block the hub while an xdist worker waits
    for its next test, stalling every server greenlet a fixture started. Polling a flag
    with the cooperative sleep does neither.
    """

    _POLL = 0.005

    def __init__(self) -> None:
        self._flag = False

    def is_set(self) -> bool:
        return self._flag

    def set(self) -> None:
        self._flag = True

    def clear(self) -> None:
        self._flag = False

    def wait(self, timeout: float | None = None) -> bool:
        import time

        deadline = None if timeout is None else time.monotonic() + timeout
        while not self._flag:
            if deadline is not None and time.monotonic() >= deadline:
                break
            time.sleep(self._POLL)
        return self._flag


def _native_methods() -> dict[str, Any]:
    def get_ident(self: Any) -> int:
        return int(_original("_thread", "get_ident")())

    def sleep(self: Any, delay: float) -> None:
        _original("time", "sleep")(delay)

    def start(self: Any, func: Callable[..., Any], args: tuple[Any, ...] = ()) -> None:
        _original("_thread", "start_new_thread")(func, args)

    def rlock(self: Any) -> Any:
        return _original("_thread", "RLock")()

    def event(self: Any) -> Any:
        return _CooperativeEvent()

    return {"get_ident": get_ident, "sleep": sleep, "start": start, "Lock": rlock,
            "RLock": rlock, "Event": event}


def _setting(name: str) -> Setting:
    def get() -> Any:
        from execnet.gateway_base import ThreadExecModel

        return ThreadExecModel.__dict__.get(name)

    def put(value: Any) -> None:
        from execnet.gateway_base import ThreadExecModel

        setattr(ThreadExecModel, name, value)

    return Setting("execnet.gateway_base", f"ThreadExecModel.{name}", get, put)


def _apply() -> None:
    from execnet.gateway_base import ThreadExecModel

    for name, method in _native_methods().items():
        setattr(ThreadExecModel, name, method)


PATCHER = PatcherSpec(
    name="execnet",
    targets=("execnet.gateway_base",),
    on_import="execnet.gateway_base",
    source=None,
    apply=_apply,
    after=("threading", "queue", "time"),
    settings=tuple(_setting(name) for name in
                   ("get_ident", "sleep", "start", "Lock", "RLock", "Event")),
    description="keeps execnet's (pytest-xdist's) gateway threads on native locks and queues",
)
