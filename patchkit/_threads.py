"""The original thread API, for patchkit's own native threads.

The sampler, the stop watchers, the part flusher and the hang watchdog run on real OS
threads started with the unpatched ``_thread`` functions: started through the patched ones
they would be greenlets, and could not watch a hub that no greenlet gets to run.
"""

from __future__ import annotations

from typing import Any, Callable

__all__ = ["original_thread_api"]


def original_thread_api() -> tuple[Callable[..., Any], Callable[[], Any], Callable[[], int]]:
    """The unpatched ``start_new_thread``, ``allocate_lock`` and ``get_ident``."""
    from gevent.monkey import get_original

    start, allocate, ident = get_original(
        "_thread", ["start_new_thread", "allocate_lock", "get_ident"])
    return start, allocate, ident
