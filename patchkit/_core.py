"""Applying and undoing patchers: patch_all, patch, unpatch_all, patched, and the queries.

State lives in one :class:`_State`; every swap goes through :func:`_apply`, which
snapshots the patcher's target modules, runs its ``apply``, and records what
changed in the ledger. Undo walks the ledger backwards.
"""

from __future__ import annotations

import contextlib
import importlib
import sys
import threading
import types
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator, Protocol

from . import _deferred, _gevent, _late
from ._errors import PatchError, PatchkitWarning, RepatchWarning
from .ledger import MISSING, Ledger, Snapshot, Swap
from .patches import builtin_specs
from .registry import PatcherSpec, Registry

__all__ = ["patch_all", "patch", "unpatch_all", "patched", "is_patched", "get_original",
           "ledger", "applied", "pending", "registry", "add_listener", "remove_listener", "PatchListener"]

GEVENT_PATCHER = "gevent.monkey"


class PatchListener(Protocol):
    """What a listener may implement; every method is optional.

    ``will_patch(names)`` before patchers run, ``did_patch(swaps)`` after swaps were
    recorded (also for swaps gevent.monkey made on its own), ``did_unpatch(swaps)``
    after originals were restored.
    """


@dataclass
class _Applied:
    mark: int
    undo: Callable[[], None] | None


@dataclass
class _State:
    registry: Registry = field(default_factory=Registry)
    ledger: Ledger = field(default_factory=Ledger)
    applied: dict[str, _Applied] = field(default_factory=dict)
    first_flags: dict[str, bool] | None = None
    deferred: set[str] = field(default_factory=set)
    hooked: set[str] = field(default_factory=set)
    listeners: list[Any] = field(default_factory=list)
    applying: bool = False
    reconciled_size: int = -1
    discovered: bool = False
    lock: threading.RLock = field(default_factory=threading.RLock)


_state = _State()
for _spec in builtin_specs():
    _state.registry.register(_spec)


def registry() -> Registry:
    """The process-wide registry of patchers (built-in and discovered)."""
    _discover()
    return _state.registry


def _discover() -> None:
    """Register external patchers (entry-point group ``patchkit.patchers``) once."""
    if not _state.discovered:
        _state.discovered = True
        _state.registry.discover()


def add_listener(listener: object) -> None:
    """Register an object notified of patching; see :class:`PatchListener`."""
    _state.listeners.append(listener)


def remove_listener(listener: object) -> None:
    with contextlib.suppress(ValueError):
        _state.listeners.remove(listener)


def _notify(method: str, payload: Any) -> None:
    for listener in list(_state.listeners):
        hook = getattr(listener, method, None)
        if hook is not None:
            hook(payload)


def _reconcile() -> list[Swap]:
    """Record swaps gevent.monkey made without patchkit (read from ``gevent.monkey.saved``)."""
    if _state.applying:
        return []
    saved = _gevent.saved_originals()
    # gevent's record only grows while patched; an unchanged size means nothing new.
    size = sum(map(len, saved.values()))
    if size == _state.reconciled_size:
        return []
    _state.reconciled_size = size
    new = []
    for module_name, originals in saved.items():
        module = sys.modules.get(module_name)
        for attr, original in list(originals.items()):
            if _state.ledger.find(module_name, attr) is None:
                current = getattr(module, attr, MISSING) if module is not None else MISSING
                swap = _state.ledger.record(module_name, attr, original, current, GEVENT_PATCHER)
                if swap is not None:
                    new.append(swap)
    if new:
        for spec in _state.registry.ordered():
            if spec.gevent_flag and _gevent.applied_flags().get(spec.gevent_flag):
                if spec.name not in _state.applied:
                    undo = spec.adopt() if spec.adopt is not None else None
                    _state.applied[spec.name] = _Applied(_state.ledger.mark(), undo)
        _notify("did_patch", new)
    return new


def _ensure_ready() -> None:
    _reconcile()


def _apply(spec: PatcherSpec) -> list[Swap]:
    """Run one patcher and record its swaps; on failure restore them and raise."""
    for module_name in spec.targets:
        importlib.import_module(module_name)
    mark = _state.ledger.mark()
    snapshot = Snapshot(spec.targets + spec.touches, spec.settings)
    before = {(m, a) for m, attrs in _gevent.saved_originals().items() for a in attrs}
    _state.applying = True
    try:
        undo = spec.apply()
    except BaseException as exc:
        _record(spec, snapshot, before)
        _state.ledger.undo(mark)
        raise PatchError(f"patcher {spec.name!r} failed and was rolled back: "
                         f"{type(exc).__name__}: {exc}") from exc
    finally:
        _state.applying = False
    swaps = _record(spec, snapshot, before)
    _state.applied[spec.name] = _Applied(mark, undo)
    return swaps


def _record(spec: PatcherSpec, snapshot: Snapshot, before: set[tuple[str, str]]) -> list[Swap]:
    swaps = []
    for module_name, attr, old, new in snapshot.changes():
        swap = _state.ledger.record(module_name, attr, old, new, spec.name)
        if swap is not None:
            swaps.append(swap)
    for setting, old, new in snapshot.setting_changes():
        swap = _state.ledger.record(setting.module, setting.name, old, new, spec.name,
                                    restore=setting.set)
        if swap is not None:
            swaps.append(swap)
    # Modules gevent imported while patching were not snapshotted; gevent saved their originals.
    for module_name, originals in _gevent.saved_originals().items():
        module = sys.modules.get(module_name)
        for attr, original in originals.items():
            if (module_name, attr) not in before and _state.ledger.find(module_name, attr) is None:
                current = getattr(module, attr, MISSING)
                swap = _state.ledger.record(module_name, attr, original, current, spec.name)
                if swap is not None:
                    swaps.append(swap)
    return swaps


def _run(specs: list[PatcherSpec]) -> list[Swap]:
    """Apply *specs* in registry order, all or nothing, with the late-patching checks.

    Library patchers whose module is not imported yet are deferred to its import.
    """
    waiting = [s for s in specs if s.name not in _state.applied and s.on_import is not None
               and s.on_import not in sys.modules]
    pending = [s for s in specs if s.name not in _state.applied and s not in waiting]
    for spec in waiting:
        _defer(spec)
    if not pending:
        return []
    threads_problem = _late.threads_problem()
    if _late.other_threads():
        _gevent.prime_hub_settings()  # before locks turn cooperative: see its docstring
    _notify("will_patch", tuple(s.name for s in pending))
    mark = _state.ledger.mark()
    done: list[str] = []
    try:
        swaps: list[Swap] = []
        for spec in pending:
            swaps += _apply(spec)
            done.append(spec.name)
    except BaseException:
        for name in reversed(done):
            _undo_patcher(name)
        _state.ledger.undo(mark)
        raise
    if threads_problem:
        _late.warn(threads_problem)
    stale = _late.stale_references(swaps)
    if stale:
        _late.warn(_late.describe_stale(stale))
    _notify("did_patch", swaps)
    return swaps


def _defer(spec: PatcherSpec) -> None:
    """Apply *spec* when its module is first imported (a wrapt post-import hook)."""
    _state.deferred.add(spec.name)
    if spec.name in _state.hooked:
        return
    _state.hooked.add(spec.name)
    assert spec.on_import is not None
    _deferred.when_imported(spec.on_import, lambda module: _apply_on_import(spec.name))


def _apply_on_import(name: str) -> None:
    with _state.lock:
        if name not in _state.deferred or name in _state.applied:
            return
        _state.deferred.discard(name)
        try:
            swaps = _apply(_state.registry.resolve(name))
        except PatchError as exc:
            # Raising here would break the program's import statement; say it instead.
            _late.warn(f"{exc}; the library stays unpatched", PatchkitWarning)
            return
        _notify("did_patch", swaps)


def _select(flags: dict[str, Any]) -> list[PatcherSpec]:
    chosen = {_state.registry.resolve(name).name: bool(on) for name, on in flags.items()}
    return [spec for spec in _state.registry.ordered()
            if chosen.get(spec.name, spec.default)]


def patch_all(**flags: bool) -> list[Swap]:
    """Patch every default patcher, except those given as ``name=False``.

    A drop-in for ``gevent.monkey.patch_all()``: the same modules, patched by gevent's
    own functions, so gevent's records agree. Calling it again is harmless; with
    different flags it patches the union (patches are never removed here) and warns.

    Args:
        **flags: One keyword per registered patcher (or alias, e.g. ``thread``).

    Returns:
        The swaps this call made (empty when everything was already patched).

    Raises:
        UnknownPatcherError: a keyword names no patcher; the message lists the known ones.
        PatchError: a patcher failed; everything this call swapped was restored.
    """
    with _state.lock, _gevent.cached_entry_points():
        _discover()
        specs = _select(flags)
        _ensure_ready()
        normalized = {_state.registry.resolve(k).name: bool(v) for k, v in flags.items()}
        if _state.first_flags is None:
            _state.first_flags = normalized
        elif normalized != _state.first_flags:
            added = [s.name for s in specs if s.name not in _state.applied]
            _late.warn("patch_all() called again with different flags; patching the union "
                       f"(newly patched: {', '.join(added) or 'nothing'}). Flags only add "
                       "patches; use patchkit.unpatch_all() to remove them.", RepatchWarning)
        gevent_flags = {s.gevent_flag: True for s in specs if s.gevent_flag}
        if not _gevent.will_patch_all(gevent_flags):
            return []
        swaps = _run(specs)
        _gevent.record_flags(gevent_flags)
        _gevent.did_patch_all(gevent_flags)
        return swaps


def patch(*names: str) -> list[Swap]:
    """Apply the named patchers (in registry order), whether or not they are defaults.

    Raises:
        UnknownPatcherError: a name is not registered.
        PatchError: a patcher failed; everything this call swapped was restored.
    """
    with _state.lock, _gevent.cached_entry_points():
        _discover()
        wanted = {_state.registry.resolve(name).name for name in names}
        _ensure_ready()
        return _run([s for s in _state.registry.ordered() if s.name in wanted])


def _undo_patcher(name: str) -> list[Swap]:
    applied = _state.applied.pop(name, None)
    if applied is None:
        return []
    _state.reconciled_size = -1
    undone = _state.ledger.undo(applied.mark)
    if applied.undo is not None:
        applied.undo()
    return undone


def _unpatch(names: list[str]) -> list[Swap]:
    """Undo the named patchers, newest first, and any swaps recorded after them."""
    order = [n for n in _state.applied if n in names]
    undone: list[Swap] = []
    for name in reversed(order):
        undone += _undo_patcher(name)
    return undone


def unpatch_all() -> list[Swap]:
    """Restore every original in the ledger, by identity, newest first.

    Also undoes what ``gevent.monkey`` patched on its own and clears gevent's records,
    so ``gevent.monkey.is_module_patched()`` is false again.

    Returns:
        The swaps undone.
    """
    with _state.lock:
        _reconcile()
        # Attributes first, then each patcher's own undo (newest first): the undo
        # callables repair state such as the main thread's ident with the originals back.
        undone = _state.ledger.undo(0)
        for applied_patcher in reversed(list(_state.applied.values())):
            if applied_patcher.undo is not None:
                applied_patcher.undo()
        _state.applied.clear()
        _state.deferred.clear()
        _state.reconciled_size = -1
        _state.first_flags = None
        _gevent.forget_flags()
        if undone:
            _notify("did_unpatch", undone)
        return undone


@contextlib.contextmanager
def patched(*names: str, **flags: bool) -> Iterator[list[Swap]]:
    """Patch for the duration of a ``with`` block, then undo exactly what it patched.

    ``patched()`` is ``patch_all()``; ``patched("socket", "time")`` is ``patch(...)``;
    ``patched(ssl=False)`` passes flags to ``patch_all``. Patchers already applied
    when the block starts stay applied after it.

    Yields:
        The swaps made on entry.
    """
    with _state.lock:
        before = set(_state.applied)
        deferred_before = set(_state.deferred)
        first_flags = _state.first_flags
        swaps = patch(*names) if names else patch_all(**flags)
        mine = [name for name in _state.applied if name not in before]
        mine_deferred = _state.deferred - deferred_before
    try:
        yield swaps
    finally:
        with _state.lock:
            _state.deferred -= mine_deferred
            mine += [name for name in mine_deferred if name in _state.applied]
            undone = _unpatch(mine)
            if not before:
                _state.first_flags = first_flags
                _gevent.forget_flags()
            if undone:
                _notify("did_unpatch", undone)


def _module_name(module: str | types.ModuleType) -> str:
    if isinstance(module, types.ModuleType):
        return module.__name__
    if isinstance(module, str):
        return module
    raise TypeError(f"expected a module or a module name, not {type(module).__name__}")


def is_patched(module: str | types.ModuleType) -> bool:
    """Whether any attribute of *module* (a module or its name) is currently swapped.

    Swaps made by patchkit and by ``gevent.monkey`` both count.

    Raises:
        TypeError: *module* is neither a module nor a string.
    """
    name = _module_name(module)
    _reconcile()
    return name in _state.ledger.modules()


def get_original(module: str | types.ModuleType, attribute: str) -> Any:
    """What *module.attribute* held before patching (the current object if unpatched).

    *module* is a module or its name (``time`` or ``"time"``). Agrees with
    ``gevent.monkey.get_original``.

    Raises:
        AttributeError: the attribute did not exist before patching and does not now.
        ImportError: a module name that cannot be imported.
        TypeError: *module* is neither a module nor a string.
    """
    name = _module_name(module)
    _reconcile()
    swap = _state.ledger.find(name, attribute)
    if swap is not None:
        if swap.original is MISSING:
            raise AttributeError(f"module {name!r} had no attribute {attribute!r} "
                                 "before patching")
        return swap.original
    if isinstance(module, types.ModuleType):
        return getattr(module, attribute)
    return getattr(importlib.import_module(name), attribute)


def ledger() -> list[Swap]:
    """Every swap in force, oldest first, including those gevent.monkey made itself."""
    _reconcile()
    return _state.ledger.swaps()


def applied() -> list[str]:
    """Names of the patchers currently applied, in the order they were applied."""
    _reconcile()
    return list(_state.applied)


def pending() -> list[str]:
    """Library patchers requested but waiting for their library to be imported."""
    return sorted(_state.deferred)


# Hear about gevent.monkey patching done without patchkit (a server's worker calling
# gevent.monkey.patch_all(), say) as it happens, so the ledger's times and listeners are right.
_gevent.subscribe(lambda: None if _reconcile() else None)
