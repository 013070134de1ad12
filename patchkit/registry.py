"""Patcher declarations and the registry that orders, validates and discovers them.

A patcher is mostly data (:class:`PatcherSpec`): its name, the modules whose
attributes it swaps, the gevent module supplying the replacements, which
patchers it must come after, and the callable that applies it. The registry
holds no per-module logic; it checks declarations when they are registered and
sorts them by their ``after`` constraints.

External patchers are found through the entry-point group ``patchkit.patchers``:
each entry point names a :class:`PatcherSpec` object.
"""

from __future__ import annotations

import importlib
import keyword
import threading
from dataclasses import dataclass
from typing import Any, Callable, Iterable

from ._errors import RegistrationError, UnknownPatcherError

__all__ = ["PatcherSpec", "Setting", "GeventPatch", "gevent_patch", "Registry",
           "ENTRY_POINT_GROUP"]

ENTRY_POINT_GROUP = "patchkit.patchers"


@dataclass(frozen=True)
class GeventPatch:
    """Applies a patch by calling ``gevent.monkey``'s public ``patch_*`` functions in turn.

    Going through gevent keeps ``gevent.monkey.saved`` (and so ``is_module_patched``
    and ``get_original``) true, and runs gevent's own hooks and plugin events.
    """

    functions: tuple[str, ...]
    kwargs: tuple[tuple[str, Any], ...] = ()

    def __call__(self) -> None:
        monkey = importlib.import_module("gevent.monkey")
        for function in self.functions:
            getattr(monkey, function)(**dict(self.kwargs))

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.kwargs)
        return " + ".join(f"gevent.monkey.{f}({args})" for f in self.functions)


def gevent_patch(*functions: str, **kwargs: Any) -> GeventPatch:
    """Declare a patch applied by calling ``gevent.monkey.<function>(**kwargs)`` for each name."""
    return GeventPatch(functions, tuple(sorted(kwargs.items())))


@dataclass(frozen=True)
class Setting:
    """Process state a patcher changes that is not a module attribute, read and written by calls.

    ``Setting("psycopg2.extensions", "wait_callback", get_wait_callback, set_wait_callback)``
    lets the ledger record the swap and undo restore the original through *set*.
    """

    module: str
    name: str
    get: Callable[[], Any]
    set: Callable[[Any], None]


@dataclass(frozen=True)
class PatcherSpec:
    """The declaration of one patcher.

    Attributes:
        name: Identifier used as the ``patch_all`` keyword and in the ledger.
        targets: Modules whose attributes the patcher swaps; imported, then snapshotted
            before it runs so that additions and removals are recorded too.
        apply: Zero-argument callable that performs the swaps. It may return an undo
            callable for state that is not a module attribute (the main thread's
            bookkeeping); patchkit calls it after restoring the patcher's swaps.
        source: The module supplying the replacements (e.g. ``"gevent.socket"``).
        after: Patchers that must run before this one when both are applied.
        aliases: Other accepted keyword names (``thread`` for ``threading``).
        default: Whether ``patch_all()`` applies it unless told otherwise.
        on_import: For library patchers: apply only once this module is imported
            (immediately if it already is), through a wrapt post-import hook.
        settings: Non-attribute state it changes, recorded and undone like attributes.
        touches: Modules the patcher changes only if they are already imported
            (snapshotted then, never imported for it).
        adopt: Optional callable run when gevent.monkey applied this patch on its own
            (seen afterwards); returns an undo callable like ``apply`` does.
        gevent_flag: The ``gevent.monkey.patch_all`` keyword this patcher stands for;
            links patchkit's record to gevent's so neither patches twice.
        description: One line for listings.
    """

    name: str
    targets: tuple[str, ...]
    apply: Callable[[], Callable[[], None] | None]
    source: str | None = None
    after: tuple[str, ...] = ()
    aliases: tuple[str, ...] = ()
    default: bool = True
    on_import: str | None = None
    touches: tuple[str, ...] = ()
    settings: tuple[Setting, ...] = ()
    adopt: Callable[[], Callable[[], None] | None] | None = None
    gevent_flag: str | None = None
    description: str = ""


def _is_dotted_name(value: object) -> bool:
    return isinstance(value, str) and bool(value) and all(
        part.isidentifier() for part in value.split("."))


def _check_spec(spec: object) -> PatcherSpec:
    if not isinstance(spec, PatcherSpec):
        raise RegistrationError(f"cannot register {spec!r}: expected a patchkit.PatcherSpec")
    name = spec.name
    problems: list[str] = []
    if not isinstance(name, str) or not name.isidentifier() or keyword.iskeyword(name):
        problems.append("its name must be a Python identifier usable as a keyword argument")
    if not spec.targets or not all(_is_dotted_name(t) for t in spec.targets):
        problems.append("'targets' must be a non-empty tuple of module names")
    if not callable(spec.apply):
        problems.append("'apply' must be callable")
    if spec.adopt is not None and not callable(spec.adopt):
        problems.append("'adopt' must be callable or None")
    if spec.source is not None and not _is_dotted_name(spec.source):
        problems.append(f"'source' {spec.source!r} is not a module name")
    if spec.on_import is not None and not _is_dotted_name(spec.on_import):
        problems.append(f"'on_import' {spec.on_import!r} is not a module name")
    if not all(isinstance(item, Setting) for item in spec.settings):
        problems.append("'settings' must hold patchkit.registry.Setting objects")
    if name in spec.after:
        problems.append("it cannot come after itself")
    for alias in spec.aliases:
        if not isinstance(alias, str) or not alias.isidentifier():
            problems.append(f"alias {alias!r} is not an identifier")
    if problems:
        raise RegistrationError(f"patcher {name!r} is invalid: " + "; ".join(problems))
    return spec


class Registry:
    """Registered patchers, in an order that honours every ``after`` declaration."""

    def __init__(self) -> None:
        self._specs: dict[str, PatcherSpec] = {}
        self._aliases: dict[str, str] = {}
        self._lock = threading.RLock()
        self._ordered: tuple[PatcherSpec, ...] | None = None

    def register(self, spec: PatcherSpec) -> PatcherSpec:
        """Validate and add *spec*.

        Raises:
            RegistrationError: the declaration is malformed, its name or an alias is
                taken, or its ``after`` constraints would form a cycle.
        """
        spec = _check_spec(spec)
        with self._lock:
            for name in (spec.name, *spec.aliases):
                if name in self._specs or name in self._aliases:
                    owner = self._aliases.get(name, name)
                    raise RegistrationError(
                        f"patcher {spec.name!r} cannot be registered: the name {name!r} "
                        f"is already used by patcher {owner!r}")
            self._specs[spec.name] = spec
            self._aliases.update({alias: spec.name for alias in spec.aliases})
            self._ordered = None
            try:
                self._check_cycles(spec.name)
            except RegistrationError:
                self.unregister(spec.name)
                raise
        return spec

    def unregister(self, name: str) -> None:
        with self._lock:
            spec = self._specs.pop(name)
            for alias in spec.aliases:
                self._aliases.pop(alias, None)
            self._ordered = None

    def _check_cycles(self, start: str) -> None:
        path: list[str] = []

        def visit(name: str) -> None:
            if name in path:
                cycle = " -> ".join(path[path.index(name):] + [name])
                raise RegistrationError(
                    f"patcher {start!r} cannot be registered: its 'after' declarations "
                    f"form a cycle ({cycle})")
            spec = self._specs.get(name)
            if spec is None:
                return
            path.append(name)
            for dep in spec.after:
                visit(dep)
            path.pop()

        visit(start)

    def resolve(self, name: str) -> PatcherSpec:
        """The spec registered under *name* or one of its aliases.

        Raises:
            UnknownPatcherError: naming *name* and listing the known patchers.
        """
        spec = self._specs.get(self._aliases.get(name, name))
        if spec is None:
            known = ", ".join(self.names())
            raise UnknownPatcherError(f"unknown patcher {name!r}; known patchers: {known}")
        return spec

    def names(self) -> list[str]:
        return [spec.name for spec in self.ordered()]

    def __contains__(self, name: object) -> bool:
        return name in self._specs or name in self._aliases

    def ordered(self) -> tuple[PatcherSpec, ...]:
        """All specs, each after those it declares ``after``; otherwise in registration order.

        Raises:
            RegistrationError: a spec comes after a patcher nobody registered.
        """
        with self._lock:
            if self._ordered is None:
                self._ordered = tuple(self._sort())
            return self._ordered

    def _sort(self) -> Iterable[PatcherSpec]:
        done: dict[str, PatcherSpec] = {}

        def place(spec: PatcherSpec) -> None:
            if spec.name in done:
                return
            for dep in spec.after:
                if dep not in self._specs:
                    raise RegistrationError(
                        f"patcher {spec.name!r} must come after {dep!r}, "
                        f"which is not registered")
                place(self._specs[dep])
            done[spec.name] = spec

        for spec in list(self._specs.values()):
            place(spec)
        return done.values()

    def discover(self, group: str = ENTRY_POINT_GROUP) -> list[PatcherSpec]:
        """Register the patchers advertised by installed distributions under *group*.

        Raises:
            RegistrationError: an entry point cannot be loaded or is not a valid spec;
                the message names the entry point and its distribution.
        """
        from importlib.metadata import entry_points

        found = []
        for ep in entry_points(group=group):
            where = f"entry point {ep.name!r} ({ep.value})"
            try:
                spec = ep.load()
            except Exception as exc:
                raise RegistrationError(f"{where} in group {group!r} could not be loaded: "
                                        f"{type(exc).__name__}: {exc}") from exc
            if not isinstance(spec, PatcherSpec):
                raise RegistrationError(f"{where} must name a patchkit.PatcherSpec, "
                                        f"not {type(spec).__name__}")
            if spec.name in self._specs and self._specs[spec.name] is spec:
                continue
            found.append(self.register(spec))
        return found
