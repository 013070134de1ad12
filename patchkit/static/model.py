"""The native-extension scan's results as plain data, and their JSON form (``patchkit.static/1``).

A :class:`StaticFinding` is one distribution (or, scanning a bare folder, one top-level
package) whose shared objects import blocking libc calls or link a known blocking client
library, with what the knowledge base says about it. ``to_dict``/``from_dict`` round-trip.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

__all__ = ["SCHEMA", "Verdict", "VERDICTS", "ClientLibrary", "ScannedFile", "StaticFinding",
           "ScanSummary", "ScanError", "ScanReport"]

SCHEMA = "patchkit.static/1"

#: ``blocks``: waits in C and nothing patches it; ``unknown``: imports blocking calls and
#: the knowledge base doesn't know it; ``patched``: a patchkit patcher covers it;
#: ``ok``: known to be cooperative under gevent.
Verdict = Literal["blocks", "unknown", "patched", "ok"]
VERDICTS: tuple[Verdict, ...] = ("blocks", "unknown", "patched", "ok")


@dataclass(frozen=True)
class ClientLibrary:
    """A known blocking client library the distribution links or bundles.

    Attributes:
        name: Its knowledge-base name (``libpq``).
        what: What it is (``PostgreSQL client library``).
        file: The linked name or bundled file (``psycopg2_binary.libs/libpq-a17e3caa.so.5.17``).
        bundled: Whether a copy ships inside the distribution (wheels' ``<dist>.libs/``).
    """

    name: str
    what: str
    file: str
    bundled: bool


@dataclass(frozen=True)
class ScannedFile:
    """One shared object with something to report: its blocking imports and links."""

    path: str
    symbols: tuple[str, ...]
    needed: tuple[str, ...]


@dataclass
class StaticFinding:
    """One distribution's native code that can block the hub, and what to do about it.

    Attributes:
        distribution: Distribution name, or None for a package found outside any.
        version: Installed version, when known.
        location: Where it is installed (its site-packages folder, or the scanned path).
        packages: Top-level import names its flagged files belong to.
        verdict: See :data:`Verdict`.
        library: The knowledge-base entry used, if any.
        behaviour: That entry's behaviour for this version.
        patcher: The patchkit patcher that covers it, if any.
        fix: What to do (None when nothing is needed).
        source: Where the knowledge comes from.
        symbols: Blocking libc calls imported, by category (network, dns, poll, sleep).
        client_libraries: Known blocking client libraries linked or bundled.
        files: The shared objects behind the above, relative to ``location``.
    """

    distribution: str | None
    version: str | None
    location: str
    packages: list[str]
    verdict: Verdict
    library: str | None
    behaviour: str | None
    patcher: str | None
    fix: str | None
    source: str | None
    symbols: dict[str, list[str]]
    client_libraries: list[ClientLibrary] = field(default_factory=list)
    files: list[ScannedFile] = field(default_factory=list)

    @property
    def name(self) -> str:
        return self.distribution or (self.packages[0] if self.packages else self.location)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["files"] = [{"path": f.path, "symbols": list(f.symbols), "needed": list(f.needed)}
                         for f in self.files]
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> StaticFinding:
        values = dict(data)
        values["client_libraries"] = [ClientLibrary(**c) for c in data["client_libraries"]]
        values["files"] = [ScannedFile(f["path"], tuple(f["symbols"]), tuple(f["needed"]))
                           for f in data["files"]]
        return cls(**values)


@dataclass
class ScanSummary:
    """How much was scanned and how long it took.

    Attributes:
        distributions: Distributions (or top-level packages) considered.
        with_native_code: Of those, how many ship shared objects.
        elf_files: Shared objects found.
        parsed: Shared objects actually parsed (each file once, however often it's listed).
        seconds: Wall time of the scan.
    """

    distributions: int = 0
    with_native_code: int = 0
    elf_files: int = 0
    parsed: int = 0
    seconds: float = 0.0


@dataclass(frozen=True)
class ScanError:
    """A file that looked like a shared object but could not be read."""

    path: str
    error: str


@dataclass
class ScanReport:
    """Everything one scan found; ``to_dict`` is the JSON contract ``patchkit.static/1``."""

    paths: list[str]
    findings: list[StaticFinding] = field(default_factory=list)
    summary: ScanSummary = field(default_factory=ScanSummary)
    errors: list[ScanError] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        summary = asdict(self.summary)
        summary["seconds"] = round(self.summary.seconds, 4)
        return {"schema": SCHEMA, "paths": list(self.paths), "summary": summary,
                "findings": [f.to_dict() for f in self.findings],
                "errors": [asdict(e) for e in self.errors]}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ScanReport:
        """Rebuild a report from its JSON form.

        Raises:
            ValueError: the data is not a ``patchkit.static/1`` report.
        """
        if data.get("schema") != SCHEMA:
            raise ValueError(f"not a {SCHEMA} report (schema {data.get('schema')!r})")
        return cls(paths=list(data["paths"]),
                   findings=[StaticFinding.from_dict(f) for f in data["findings"]],
                   summary=ScanSummary(**data["summary"]),
                   errors=[ScanError(**e) for e in data["errors"]])
