"""Keeping gevent's own records and plugin events true while patchkit drives the patching.

Everything here touches gevent internals that gevent documents as used by
third-party patchers (``gevent.monkey.saved``, the patch_all settings key) or its
public event API (``gevent.events``). Kept in one place so a gevent change has
one place to land.
"""

from __future__ import annotations

import contextlib
import sys
from typing import Any, Callable, Iterator

__all__ = ["cached_entry_points", "saved", "applied_flags", "record_flags", "forget_flags", "will_patch_all",
           "did_patch_all", "subscribe", "prime_hub_settings"]

# gevent.monkey.patch_all remembers the flags it was called with under this key of
# ``saved`` and only patches what a later call adds; writing ours there makes a later
# ``gevent.monkey.patch_all()`` (gunicorn's worker, say) a no-op instead of a re-patch.
SETTINGS_KEY = "_gevent_saved_patch_all_module_settings"

# patch_all keywords that are not patchers (or are no-ops on supported Pythons),
# with gevent's defaults.
_GEVENT_FIXED_FLAGS = {"sys": False, "aggressive": True, "Event": True,
                       "builtins": True, "contextvars": True}


def saved() -> dict[str, Any] | None:
    """``gevent.monkey.saved`` if gevent.monkey was imported, else ``None`` (nothing patched)."""
    state = sys.modules.get("gevent.monkey._state")
    return getattr(state, "saved", None) if state is not None else None


def saved_originals() -> dict[str, dict[str, Any]]:
    """gevent's originals per module, without gevent's private bookkeeping keys."""
    entries = saved() or {}
    return {mod: attrs for mod, attrs in entries.items() if not mod.startswith("_gevent")}


def applied_flags() -> dict[str, bool]:
    """The ``patch_all`` keywords gevent has recorded as applied."""
    entries = saved() or {}
    return dict(entries.get(SETTINGS_KEY, {}))


def record_flags(flags: dict[str, bool]) -> None:
    """Merge *flags* (gevent keyword -> applied) into gevent's patch_all record."""
    from gevent.monkey import saved as gevent_saved

    current = gevent_saved.setdefault(SETTINGS_KEY, {})
    if not current:
        current.update(_GEVENT_FIXED_FLAGS)
    for key, value in flags.items():
        current[key] = bool(current.get(key)) or value


def forget_flags() -> None:
    entries = saved()
    if entries is not None:
        entries.pop(SETTINGS_KEY, None)


def will_patch_all(flags: dict[str, bool]) -> bool:
    """Announce a patch_all to gevent's subscribers and plugins.

    Returns:
        ``False`` if a subscriber raised ``gevent.events.DoNotPatch``.
    """
    from gevent import events

    try:
        events.notify_and_call_entry_points(events.GeventWillPatchAllEvent(flags, {}))
    except events.DoNotPatch:
        return False
    return True


def did_patch_all(flags: dict[str, bool]) -> None:
    from gevent import events

    events.notify_and_call_entry_points(events.GeventDidPatchBuiltinModulesEvent(flags, {}))
    events.notify_and_call_entry_points(events.GeventDidPatchAllEvent(flags, {}))


def subscribe(callback: Callable[[], None]) -> None:
    """Call *callback* after gevent reports it patched a module or finished a patch_all."""
    from gevent import events

    def on_event(event: object) -> None:
        if isinstance(event, (events.GeventDidPatchModuleEvent, events.GeventDidPatchAllEvent)):
            callback()

    events.subscribers.append(on_event)


@contextlib.contextmanager
def cached_entry_points() -> Iterator[None]:
    """Scan installed distributions' entry points once for the whole patch_all.

    gevent announces every module it patches to plugins through
    ``importlib.metadata.entry_points(group=...)``, which re-reads every installed
    distribution's metadata each time (about 27 times per patch_all, most of its cost
    in a large environment). Nothing installs distributions mid-patch, so one scan is
    shared; the original function is back when the block ends.
    """
    from importlib import metadata

    original = metadata.entry_points
    every: list[Any] = []

    def entry_points(**params: Any) -> Any:
        if not every:
            every.append(original())
        return every[0].select(**params) if params else every[0]

    metadata.entry_points = entry_points
    try:
        yield
    finally:
        metadata.entry_points = original


def prime_hub_settings() -> None:
    """Resolve the gevent settings a new Hub imports on first use.

    A native thread started before patching gets its own hub at its first cooperative
    call (``time.sleep`` is gevent's now). Creating a hub imports modules named by
    settings (``format_context`` imports ``pprint``); if the main thread creates its hub
    at the same moment, both import through import locks that patching made gevent
    locks, and each waits on the other -- seen with the bundled example under load.
    Resolved here, before patching, those imports are done with the real import locks
    and before any thread needs them.
    """
    from gevent import config

    for name in ("loop", "format_context", "resolver", "threadpool"):
        getattr(config, name)
