"""Following patching as it happens: what was replaced, and when.

Listens to patchkit (``patchkit.add_listener``) and to gevent's own patch events, so
a program that calls ``gevent.monkey.patch_all()`` directly is seen too. The
originals come from ``gevent.monkey.saved`` (first original wins) and
``patchkit.ledger()``; only those actually replaced in their module count.
"""

from __future__ import annotations

import sys
import time
import types
from typing import Any, Callable

__all__ = ["PatchWatch", "gevent_saved"]

# Originals worth tracking are objects with identity: functions, classes, modules.
# Matching ints or strings by identity would report coincidences.
_TRACKED_TYPES = (types.FunctionType, types.BuiltinFunctionType, types.MethodType, type,
                  types.ModuleType)


def gevent_saved() -> dict[str, dict[str, Any]]:
    """gevent's originals per module (empty when gevent.monkey was never imported)."""
    state = sys.modules.get("gevent.monkey._state")
    saved = getattr(state, "saved", None) or {}
    return {mod: attrs for mod, attrs in saved.items()
            if not mod.startswith("_gevent") and isinstance(attrs, dict)}


def _patchkit_originals() -> list[tuple[str, str, Any]]:
    core = sys.modules.get("patchkit")
    ledger = getattr(core, "ledger", None)
    if ledger is None:
        return []
    return [(s.module, s.attribute, s.original) for s in ledger()]


class PatchWatch:
    """Tracks patching for the detectors; also a patchkit listener (``did_patch``...).

    Args:
        on_patch: Called (on the patching thread) after each patch_all or patch.
    """

    def __init__(self, on_patch: Callable[[], None]) -> None:
        self.on_patch = on_patch
        self.first_patch: float | None = None
        self.originals: dict[int, tuple[Any, str]] = {}
        self.original_ids: frozenset[int] = frozenset()
        self._modules: set[str] = set()
        self._subscriber: Callable[[object], None] | None = None

    @property
    def patched(self) -> bool:
        """Whether anything was patched so far."""
        return self.first_patch is not None

    def patched_modules(self) -> list[str]:
        """Names of every module patching touched, sorted."""
        return sorted(self._modules)

    def start(self) -> None:
        """Subscribe to patchkit and gevent, and read what is already patched."""
        import gevent.events

        import patchkit

        patchkit.add_listener(self)

        def on_gevent_event(event: object) -> None:
            if isinstance(event, gevent.events.GeventDidPatchAllEvent):
                self.did_patch([])

        self._subscriber = on_gevent_event
        gevent.events.subscribers.append(on_gevent_event)
        self.refresh()

    def stop(self) -> None:
        """Unsubscribe; idempotent."""
        import gevent.events

        import patchkit

        patchkit.remove_listener(self)
        if self._subscriber in gevent.events.subscribers:
            gevent.events.subscribers.remove(self._subscriber)

    def did_patch(self, swaps: list[Any]) -> None:
        """patchkit listener hook: refresh the originals and tell the detectors."""
        self.refresh()
        if self.originals:
            self.on_patch()

    def did_unpatch(self, swaps: list[Any]) -> None:
        """patchkit listener hook: originals restored are no longer stale."""
        self.refresh()

    def refresh(self) -> None:
        """Re-read the replaced originals from gevent and patchkit."""
        found: dict[int, tuple[Any, str]] = {}
        entries = [(m, a, o) for m, attrs in gevent_saved().items() for a, o in attrs.items()]
        for module_name, attr, original in entries + _patchkit_originals():
            self._modules.add(module_name)
            module = sys.modules.get(module_name)
            if (module is None or not isinstance(original, _TRACKED_TYPES)
                    or getattr(module, attr, None) is original):
                continue
            found.setdefault(id(original), (original, f"{module_name}.{attr}"))
        self.originals = found
        self.original_ids = frozenset(found)
        if (found or self._modules) and self.first_patch is None:
            self.first_patch = time.perf_counter()

    def label(self, obj: Any) -> str | None:
        """``"time.sleep"`` if *obj* is a replaced original, else None."""
        entry = self.originals.get(id(obj))
        return entry[1] if entry is not None and entry[0] is obj else None
