"""threading: threads become greenlets (``_thread``, ``threading``, ``_threading_local``).

gevent also rewrites state that is not a module attribute: the main thread's
ident, its ``_tstate_lock`` (3.11/3.12) or ``_handle`` (3.13+), and the locks of
existing logging handlers. :func:`_apply` remembers that state before patching
and returns an undo callable that puts it back, so a process unpatched with
``unpatch_all()`` still shuts down through the original ``threading._shutdown``.
"""

from __future__ import annotations

import sys
from typing import Any, Callable

from ..registry import PatcherSpec, gevent_patch

# Attributes of the main Thread object that gevent's patch replaces or adds.
_MAIN_THREAD_STATE = ("_ident", "_tstate_lock", "_handle", "_os_thread_handle")
_MAIN_THREAD_ADDED = ("_greenlet", "_gevent_real_tstate_lock", "_after_fork")


def _apply() -> Callable[[], None]:
    import threading

    main = threading.main_thread()
    before = {k: main.__dict__[k] for k in _MAIN_THREAD_STATE if k in main.__dict__}
    was_dangling = main in threading._dangling  # type: ignore[attr-defined]
    handler_locks = _logging_handler_locks()
    gevent_patch("patch_thread")()
    return _undo_main_thread(before, was_dangling, handler_locks)


def _adopt() -> Callable[[], None]:
    """For a thread patch gevent.monkey made on its own: undo what can be derived now."""
    return _undo_main_thread(None, True, [])


def _undo_main_thread(before: dict[str, Any] | None, was_dangling: bool,
                      handler_locks: list[tuple[Any, Any]]) -> Callable[[], None]:
    def undo() -> None:
        import _thread
        import threading

        main = threading.main_thread()
        patched_ident = main.__dict__.get("_ident")
        real_lock = main.__dict__.get("_gevent_real_tstate_lock")
        for name in _MAIN_THREAD_ADDED:
            main.__dict__.pop(name, None)
        if before is not None:
            main.__dict__.update(before)
        else:
            if real_lock is not None:
                main.__dict__["_tstate_lock"] = real_lock
            if _thread.get_native_id() == main.native_id:
                main.__dict__["_ident"] = _thread.get_ident()
        active: dict[Any, Any] = threading._active  # type: ignore[attr-defined]
        if patched_ident != main.ident and active.get(patched_ident) is main:
            del active[patched_ident]
            active[main.ident] = main
        if was_dangling:
            threading._dangling.add(main)  # type: ignore[attr-defined]
        for handler, lock in handler_locks:
            handler.lock = lock

    return undo


def _logging_handler_locks() -> list[tuple[Any, Any]]:
    logging = sys.modules.get("logging")
    if logging is None:
        return []
    pairs = []
    for ref in list(logging._handlerList):
        handler = ref() if callable(ref) else ref
        if handler is not None and hasattr(handler, "lock"):
            pairs.append((handler, handler.lock))
    return pairs


PATCHER = PatcherSpec(
    name="threading",
    aliases=("thread",),
    # gevent's patch imports concurrent.futures.thread and swaps its shutdown lock.
    targets=("_thread", "threading", "_threading_local", "concurrent.futures.thread"),
    # logging's locks are replaced only when logging is already in use.
    touches=("logging",),
    source="gevent.threading",
    apply=_apply,
    adopt=_adopt,
    gevent_flag="thread",
    description="threading.Thread, Lock, Event, local, _thread.* -> greenlets (gevent.thread)",
)
