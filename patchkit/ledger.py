"""The ledger: one record per swapped module attribute, whoever swapped it.

Swaps are found by *diffing*, not by trusting each patcher to report: before a
patcher runs, the namespaces of the modules it may touch are snapshotted, and
afterwards every attribute whose identity changed becomes a :class:`Swap`.
Swaps made by ``gevent.monkey`` directly (outside patchkit) are recovered from
``gevent.monkey.saved``, gevent's own record of originals.

Undo restores each original by identity, newest first, and removes the entry
from ``gevent.monkey.saved`` so gevent's ``is_module_patched`` stays true.
"""

from __future__ import annotations

import sys
import threading
import time
import types
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Iterator

__all__ = ["MISSING", "Swap", "Ledger", "Snapshot", "assign"]


class _Missing:
    """Marks an attribute that did not exist (before a swap added it, or after one removed it)."""

    _instance: _Missing | None = None

    def __new__(cls) -> _Missing:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "<missing>"

    def __reduce__(self) -> str:
        return "MISSING"


MISSING: Any = _Missing()


@dataclass(frozen=True)
class Swap:
    """One swapped attribute.

    Attributes:
        module: The patched module's name, e.g. ``"socket"``.
        attribute: The attribute's name, e.g. ``"socket"``.
        original: The object the module held before (``MISSING`` if it had none).
        replacement: The object put in its place (``MISSING`` if it was removed).
        patcher: The registered patcher that made the swap, or ``"gevent.monkey"``
            for a swap gevent made on its own.
        when: ``time.time()`` when the swap was recorded.
        restore: For process state that is not a module attribute (a driver's
            callback, see :class:`patchkit.registry.Setting`): how to put the original back.
    """

    module: str
    attribute: str
    original: Any
    replacement: Any
    patcher: str
    when: float
    restore: Callable[[Any], None] | None = field(default=None, repr=False, compare=False)

    @property
    def key(self) -> tuple[str, str]:
        return (self.module, self.attribute)


class Snapshot:
    """Shallow copies of module namespaces, to diff against after a patcher ran."""

    def __init__(self, module_names: Iterable[str], settings: Iterable[Any] = ()) -> None:
        self._before: dict[str, dict[str, Any]] = {}
        for name in module_names:
            module = sys.modules.get(name)
            if module is not None:
                self._before[name] = dict(vars(module))
        self._settings = [(setting, setting.get()) for setting in settings]

    def setting_changes(self) -> Iterator[tuple[Any, Any, Any]]:
        """Yield ``(setting, before, after)`` for every setting whose value changed identity."""
        for setting, old in self._settings:
            new = setting.get()
            if new is not old:
                yield setting, old, new

    def changes(self) -> Iterator[tuple[str, str, Any, Any]]:
        """Yield ``(module, attribute, before, after)`` for every attribute whose identity changed.

        Newly imported submodules appearing as package attributes are not swaps and are skipped.
        """
        for name, before in self._before.items():
            module = sys.modules.get(name)
            if module is None:
                continue
            after = vars(module)
            for attr in before.keys() | after.keys():
                old = before.get(attr, MISSING)
                new = after.get(attr, MISSING)
                if old is new or (old is MISSING and isinstance(new, types.ModuleType)):
                    continue
                yield name, attr, old, new


class Ledger:
    """An ordered, thread-safe list of swaps; the first original recorded for an attribute wins."""

    def __init__(self) -> None:
        self._swaps: list[Swap] = []
        self._keys: dict[tuple[str, str], Swap] = {}
        self._lock = threading.RLock()

    def record(self, module: str, attribute: str, original: Any, replacement: Any,
               patcher: str, restore: Callable[[Any], None] | None = None) -> Swap | None:
        """Append a swap unless that attribute is already recorded (then only the first counts).

        Returns:
            The new record, or ``None`` when the attribute was already in the ledger.
        """
        with self._lock:
            if (module, attribute) in self._keys:
                return None
            swap = Swap(module, attribute, original, replacement, patcher, time.time(), restore)
            self._swaps.append(swap)
            self._keys[swap.key] = swap
            return swap

    def swaps(self) -> list[Swap]:
        with self._lock:
            return list(self._swaps)

    def find(self, module: str, attribute: str) -> Swap | None:
        return self._keys.get((module, attribute))

    def modules(self) -> set[str]:
        with self._lock:
            return {swap.module for swap in self._swaps}

    def mark(self) -> int:
        """A position to undo back to (see :meth:`undo`)."""
        with self._lock:
            return len(self._swaps)

    def undo(self, since: int = 0) -> list[Swap]:
        """Restore, newest first, every original recorded after position *since*.

        Returns:
            The swaps undone, in the order they were undone.
        """
        with self._lock:
            undone = self._swaps[since:]
            undone.reverse()
            del self._swaps[since:]
            for swap in undone:
                del self._keys[swap.key]
                _restore(swap)
            return undone


def assign(swap: Swap, value: Any) -> None:
    """Put *value* (the swap's original or its replacement) where *swap* acts: through its
    ``restore`` for a setting, else as the module's attribute (``MISSING`` deletes it; a
    module no longer imported is left alone). The ledger's record is not changed.
    """
    if swap.restore is not None:
        swap.restore(value)
        return
    module = sys.modules.get(swap.module)
    if module is not None:
        if value is MISSING:
            if hasattr(module, swap.attribute):
                delattr(module, swap.attribute)
        else:
            setattr(module, swap.attribute, value)


def _restore(swap: Swap) -> None:
    assign(swap, swap.original)
    if swap.restore is not None:
        return
    saved = _gevent_saved()
    if saved is not None:
        entries = saved.get(swap.module)
        if entries is not None:
            entries.pop(swap.attribute, None)
            if not entries:
                del saved[swap.module]


def _gevent_saved() -> dict[str, dict[str, Any]] | None:
    """gevent.monkey's record of originals, if gevent.monkey was ever imported."""
    state = sys.modules.get("gevent.monkey._state")
    return getattr(state, "saved", None) if state is not None else None
