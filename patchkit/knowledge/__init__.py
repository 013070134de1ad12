"""The knowledge base: how third-party libraries behave under gevent, and what to do.

The facts are data, in ``libraries.toml`` beside this module (its header documents the
fields); this module loads and checks them once and answers lookups:

    >>> from patchkit import knowledge
    >>> knowledge.lookup("psycopg2-binary").patcher
    'psycopg2'
    >>> knowledge.fix_for("MySQLdb")
    "use PyMySQL (pure Python, cooperative after patch_all()), or run the queries in gevent's threadpool"

Names are matched as Python does for imports (``psycopg2.extras`` -> ``psycopg2``) and as
packaging does for distributions (``PsycoPG2_Binary`` -> ``psycopg2-binary``).
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from typing import Any, Literal, cast

__all__ = ["Behaviour", "BEHAVIOURS", "GIL", "Library", "NativeLibrary", "KnowledgeBase",
           "KnowledgeError", "load", "knowledge_base", "lookup", "by_import",
           "by_distribution", "fix_for", "installed_version", "native_library",
           "normalize_distribution", "version_matches"]

Behaviour = Literal["cooperative", "needs-patcher", "blocks-in-c", "unfixable"]
BEHAVIOURS: tuple[Behaviour, ...] = ("cooperative", "needs-patcher", "blocks-in-c", "unfixable")

#: Whether a library's long C calls release the GIL (so gevent's threadpool frees the hub).
GIL = Literal["released", "held"]
_GILS: tuple[GIL, ...] = ("released", "held")

_RESOURCE = "libraries.toml"


class KnowledgeError(ValueError):
    """The knowledge base file is malformed; the message names the entry and the field."""


def normalize_distribution(name: str) -> str:
    """PEP 503 normalization: ``PyMySQL`` -> ``pymysql``, ``psycopg2_binary`` -> ``psycopg2-binary``."""
    return re.sub(r"[-_.]+", "-", name).lower()


def _release(version: str) -> tuple[int, ...]:
    """The numeric release of a version string: ``3.1.14rc1`` -> ``(3, 1, 14)``."""
    match = re.match(r"\s*v?(\d+(?:\.\d+)*)", version)
    if match is None:
        raise ValueError(f"not a version: {version!r}")
    return tuple(int(part) for part in match.group(1).split("."))


def _compare(left: tuple[int, ...], right: tuple[int, ...]) -> int:
    width = max(len(left), len(right))
    padded_left = left + (0,) * (width - len(left))
    padded_right = right + (0,) * (width - len(right))
    return (padded_left > padded_right) - (padded_left < padded_right)


_OPERATORS = {"<": lambda c: c < 0, "<=": lambda c: c <= 0, ">": lambda c: c > 0,
              ">=": lambda c: c >= 0, "==": lambda c: c == 0, "!=": lambda c: c != 0}


def version_matches(version: str, spec: str) -> bool:
    """Whether *version* satisfies *spec* (``"*"`` or clauses like ``">=2.0,<3.1.14"``).

    Only release numbers are compared (pre-release tags are ignored), which is all the
    knowledge base's ranges need.

    Raises:
        ValueError: *spec* or *version* cannot be read.
    """
    if spec.strip() == "*":
        return True
    have = _release(version)
    for clause in spec.split(","):
        match = re.fullmatch(r"\s*(<=|>=|==|!=|<|>)\s*([\w.]+)\s*", clause)
        if match is None:
            raise ValueError(f"cannot read version clause {clause!r} in {spec!r}")
        operator, bound = match.groups()
        if not _OPERATORS[operator](_compare(have, _release(bound))):
            return False
    return True


@dataclass(frozen=True)
class Library:
    """What the knowledge base says about one library (see ``libraries.toml``)."""

    key: str
    imports: tuple[str, ...]
    distributions: tuple[str, ...]
    affected: str
    behaviour: Behaviour
    fix: str
    source: str
    otherwise: Behaviour | None = None
    patcher: str | None = None
    native: tuple[str, ...] = ()
    note: str = ""
    category: str = ""
    calls: tuple[str, ...] = ()
    gil: GIL | None = None
    evidence: tuple[str, ...] = ()
    no_evidence: str = ""
    otherwise_fix: str = ""

    @property
    def name(self) -> str:
        """The name people know it by: its first distribution, else the key (stdlib)."""
        return self.distributions[0] if self.distributions else self.key

    def affects(self, version: str | None) -> bool:
        """Whether *version* is in the affected range (an unknown version is assumed to be)."""
        if version is None:
            return True
        try:
            return version_matches(version, self.affected)
        except ValueError:
            return True

    def behaviour_for(self, version: str | None) -> Behaviour:
        """The behaviour of *version* (``behaviour`` inside the range, else ``otherwise``)."""
        if self.affects(version) or self.otherwise is None:
            return self.behaviour
        return self.otherwise

    def fix_for(self, version: str | None = None) -> str:
        """The fix for *version*: outside the affected range, that it is already fine."""
        if self.affects(version) or self.otherwise is None:
            return self.fix
        if self.otherwise_fix:
            return self.otherwise_fix
        return (f"nothing to do: {self.name} {version} is {self.otherwise} "
                f"(versions {self.affected} are {self.behaviour})")


@dataclass(frozen=True)
class NativeLibrary:
    """A C client library that does its own blocking I/O (matched by soname stem)."""

    name: str
    what: str
    libraries: tuple[str, ...]


class KnowledgeBase:
    """Every :class:`Library` and :class:`NativeLibrary`, indexed for lookup."""

    def __init__(self, libraries: list[Library], native: list[NativeLibrary]) -> None:
        self.libraries = tuple(libraries)
        self.native = {lib.name: lib for lib in native}
        self._by_import = {name: lib for lib in libraries for name in lib.imports}
        self._by_dist = {normalize_distribution(name): lib
                         for lib in libraries for name in lib.distributions}
        self._by_key = {lib.key: lib for lib in libraries}
        self._by_call = {call: lib for lib in libraries for call in lib.calls}

    def by_import(self, module: str) -> Library | None:
        """The library providing *module* (any dotted name; its top level is used)."""
        return self._by_import.get(module.partition(".")[0])

    def by_distribution(self, name: str) -> Library | None:
        """The library distributed as *name* (normalized, so case and ``_`` don't matter)."""
        return self._by_dist.get(normalize_distribution(name))

    def by_call(self, qualname: str) -> Library | None:
        """The entry for a standard-library call such as ``os.system`` (see ``calls``)."""
        return self._by_call.get(qualname)

    def lookup(self, name: str) -> Library | None:
        """By call, then import name, then distribution name, then the entry's key."""
        return (self.by_call(name) or self.by_import(name) or self.by_distribution(name)
                or self._by_key.get(normalize_distribution(name)))

    def native_library(self, soname: str) -> NativeLibrary | None:
        """The known client library a shared object name stands for, if any.

        ``libpq.so.5``, ``libpq-a17e3caa.so.5.17`` (auditwheel's renamed copy) and
        ``libpq.so`` all match ``libpq``; ``libldap-2.5.so.0`` matches ``libldap``.
        """
        stem = soname.rsplit("/", 1)[-1].split(".so", 1)[0]
        stem = re.sub(r"-[0-9a-f]{8}$", "", stem)
        # OpenLDAP names its libraries by release (libldap-2.5.so.0).
        return self.native.get(stem) or self.native.get(re.sub(r"-\d+(\.\d+)*$", "", stem))


def _strings(entry: dict[str, Any], field: str, where: str, required: bool = True) -> tuple[str, ...]:
    value = entry.get(field, [] if not required else None)
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value) or (
            required and not value):
        raise KnowledgeError(f"{where}: {field!r} must be a non-empty list of strings"
                             if required else f"{where}: {field!r} must be a list of strings")
    return tuple(value)


def _text(entry: dict[str, Any], field: str, where: str, required: bool = True) -> str | None:
    value = entry.get(field)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value.strip():
        raise KnowledgeError(f"{where}: {field!r} must be a non-empty string")
    return value


def _behaviour(value: str | None, where: str, field: str) -> Behaviour | None:
    if value is not None and value not in BEHAVIOURS:
        raise KnowledgeError(f"{where}: {field!r} is {value!r}; expected one of "
                             f"{', '.join(BEHAVIOURS)}")
    return value


_FIELDS = frozenset({"imports", "distributions", "affected", "behaviour", "otherwise",
                     "patcher", "native", "fix", "source", "note", "category", "calls", "gil",
                     "evidence", "no_evidence", "otherwise_fix"})


def _gil(value: str | None, where: str) -> GIL | None:
    if value is not None and value not in _GILS:
        raise KnowledgeError(f"{where}: 'gil' is {value!r}; expected one of {', '.join(_GILS)}")
    return value  # narrowed to GIL by the membership test


def _library(key: str, entry: dict[str, Any], native: set[str]) -> Library:
    where = f"libraries.{key}"
    unknown_fields = sorted(set(entry) - _FIELDS)
    if unknown_fields:
        raise KnowledgeError(f"{where}: unknown field(s) {unknown_fields}")
    affected = cast(str, _text(entry, "affected", where))
    try:
        version_matches("0", affected)
    except ValueError as exc:
        raise KnowledgeError(f"{where}: 'affected': {exc}") from None
    calls = _strings(entry, "calls", where, required=False)
    library = Library(
        key=key, imports=_strings(entry, "imports", where, required=not calls),
        distributions=_strings(entry, "distributions", where, required=False),
        affected=affected,
        behaviour=cast(Behaviour, _behaviour(_text(entry, "behaviour", where), where, "behaviour")),
        fix=cast(str, _text(entry, "fix", where)), source=cast(str, _text(entry, "source", where)),
        otherwise=_behaviour(_text(entry, "otherwise", where, False), where, "otherwise"),
        patcher=_text(entry, "patcher", where, False),
        native=_strings(entry, "native", where, required=False),
        note=_text(entry, "note", where, False) or "",
        category=cast(str, _text(entry, "category", where)), calls=calls,
        gil=_gil(_text(entry, "gil", where, False), where),
        evidence=_strings(entry, "evidence", where, required=False),
        no_evidence=_text(entry, "no_evidence", where, False) or "",
        otherwise_fix=_text(entry, "otherwise_fix", where, False) or "")
    _check(library, where, native)
    return library


def _check(library: Library, where: str, native: set[str]) -> None:
    unknown = [name for name in library.native if name not in native]
    if unknown:
        raise KnowledgeError(f"{where}: 'native' names {unknown} with no [native] entry")
    if library.behaviour == "needs-patcher" and library.patcher is None:
        raise KnowledgeError(f"{where}: behaviour 'needs-patcher' requires 'patcher'")
    if not library.evidence and not library.no_evidence:
        raise KnowledgeError(f"{where}: give 'evidence' (audit cases that prove it) or "
                             "'no_evidence' (why no run here can)")


def load(text: str) -> KnowledgeBase:
    """Parse and check a knowledge base in the ``libraries.toml`` format.

    Raises:
        KnowledgeError: malformed TOML or entry; the message names the entry and field.
    """
    import tomllib

    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise KnowledgeError(f"knowledge base is not valid TOML: {exc}") from None
    natives = [NativeLibrary(name, cast(str, _text(entry, "what", f"native.{name}")),
                             _strings(entry, "libraries", f"native.{name}"))
               for name, entry in data.get("native", {}).items()]
    names = {lib.name for lib in natives}
    libraries = [_library(key, entry, names) for key, entry in data.get("libraries", {}).items()]
    return KnowledgeBase(libraries, natives)


@functools.lru_cache(maxsize=1)
def knowledge_base() -> KnowledgeBase:
    """The knowledge base shipped with patchkit, loaded once."""
    import os

    # A plain read beside this module: importlib.resources costs ~20 ms to import, and
    # the auditor loads this at start-up (its known-package watch).
    try:
        with open(os.path.join(os.path.dirname(__file__), _RESOURCE), encoding="utf-8") as f:
            text = f.read()
    except OSError:  # not on a file system (a zip import): ask the import system
        from importlib.resources import files

        text = files(__name__).joinpath(_RESOURCE).read_text(encoding="utf-8")
    return load(text)


def lookup(name: str) -> Library | None:
    """The entry for an import or distribution name, or None."""
    return knowledge_base().lookup(name)


def by_import(module: str) -> Library | None:
    """The entry for an import name (dotted names use their top level), or None."""
    return knowledge_base().by_import(module)


def by_distribution(name: str) -> Library | None:
    """The entry for a distribution name, or None."""
    return knowledge_base().by_distribution(name)


def native_library(soname: str) -> NativeLibrary | None:
    """The known blocking client library a shared object name stands for, or None."""
    return knowledge_base().native_library(soname)


def installed_version(library: Library) -> str | None:
    """The installed version of *library* (its first installed distribution), or None.

    A standard-library entry (no distribution) is always there: the Python version.
    """
    import platform
    from importlib.metadata import PackageNotFoundError, version

    if not library.distributions:
        return f"Python {platform.python_version()}"
    for name in library.distributions:
        try:
            return version(name)
        except PackageNotFoundError:
            continue
    return None


def fix_for(import_or_dist_name: str, version: str | None = None) -> str | None:
    """The suggested fix for a library, by import or distribution name.

    Args:
        import_or_dist_name: ``"psycopg2"``, ``"psycopg2.extras"``, ``"psycopg2-binary"``...
        version: The installed version, when known; outside the affected range the
            answer says there is nothing to do.

    Returns:
        One sentence, or None when the library is not in the knowledge base.
    """
    library = lookup(import_or_dist_name)
    return library.fix_for(version) if library is not None else None
