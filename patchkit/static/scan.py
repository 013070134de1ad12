"""The native-extension scan: inventory -> ELF facts -> findings judged by the knowledge base.

Each shared object is parsed once per scan, however many distributions or paths list
it (files are keyed by device and inode).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from stat import S_ISREG

from .. import knowledge
from ..knowledge import KnowledgeBase, Library
from .elf import ElfInfo, NotElf, categorize, read_elf
from .inventory import Unit, inventory
from .model import VERDICTS, ClientLibrary, ScanError, ScannedFile, ScanReport, StaticFinding, Verdict

__all__ = ["scan", "Scanner"]

_UNKNOWN_FIX = ("not in patchkit's knowledge base: check whether these calls run on the hub "
                "(python -m patchkit.audit shows it) or run them in gevent's threadpool")


@dataclass
class Scanner:
    """Parses shared objects, each once, and judges units against the knowledge base."""

    kb: KnowledgeBase = field(default_factory=knowledge.knowledge_base)
    patchers: frozenset[str] = frozenset()
    parsed: dict[tuple[int, int], ElfInfo | NotElf] = field(default_factory=dict)
    errors: list[ScanError] = field(default_factory=list)

    def read(self, path: Path) -> ElfInfo | None:
        """The ELF facts of *path* (cached by inode); None, with an error kept, if unreadable."""
        try:
            stat = path.stat()
            key = (stat.st_dev, stat.st_ino)
            if not S_ISREG(stat.st_mode):  # a FIFO named *.so would block open() for ever
                raise NotElf("not a regular file (a FIFO, device or socket): not read")
            if key not in self.parsed:
                with open(path, "rb") as stream:
                    self.parsed[key] = read_elf(stream)
            result = self.parsed[key]
        except NotElf as exc:
            result = exc
        except OSError as exc:
            result = NotElf(f"{type(exc).__name__}: {exc.strerror or exc}")
        if isinstance(result, NotElf):
            self.errors.append(ScanError(str(path), str(result)))
            return None
        return result

    def judge(self, unit: Unit) -> StaticFinding | None:
        """The finding for *unit*, or None when none of its shared objects can block."""
        bundled = {f.rsplit("/", 1)[-1]: f for f in unit.files}
        flagged: list[ScannedFile] = []
        clients: dict[str, ClientLibrary] = {}
        symbols: set[str] = set()
        for relative in unit.files:
            info = self.read(unit.location / relative)
            if info is None:
                continue
            found = self._clients(relative, info, bundled)
            for client in found:
                clients.setdefault(client.name, client)
            if info.blocking or found:
                flagged.append(ScannedFile(relative, info.blocking, info.needed))
                symbols.update(info.blocking)
        if not flagged:
            return None
        return self._finding(unit, flagged, list(clients.values()), sorted(symbols))

    def _clients(self, relative: str, info: ElfInfo,
                 bundled: dict[str, str]) -> list[ClientLibrary]:
        """Known client libraries *relative* is, or links (as the bundled copy when shipped)."""
        found = []
        own = self.kb.native_library(relative)
        if own is not None:
            found.append(ClientLibrary(own.name, own.what, relative, True))
        for needed in info.needed:
            lib = self.kb.native_library(needed)
            if lib is not None:
                found.append(ClientLibrary(lib.name, lib.what, bundled.get(needed, needed),
                                           needed in bundled))
        return found

    def _library(self, unit: Unit) -> tuple[Library | None, list[str]]:
        """The knowledge-base entry for *unit*, and its import names (the matched one first)."""
        if unit.distribution is not None:
            library = self.kb.by_distribution(unit.distribution)
            if library is not None:
                return library, unit.packages
        for name in unit.packages + (unit.enclosing if unit.distribution is None else []):
            library = self.kb.by_import(name)
            if library is not None:
                return library, [name] + [p for p in unit.packages if p != name]
        return None, unit.packages

    def _finding(self, unit: Unit, files: list[ScannedFile], clients: list[ClientLibrary],
                 symbols: list[str]) -> StaticFinding:
        library, packages = self._library(unit)
        verdict, behaviour, fix = self._verdict(unit, library, clients)
        return StaticFinding(
            distribution=unit.distribution, version=unit.version, location=str(unit.location),
            packages=packages, verdict=verdict, library=library.key if library else None,
            behaviour=behaviour, patcher=library.patcher if library else None, fix=fix,
            source=library.source if library else None, symbols=categorize(symbols),
            client_libraries=clients, files=files)

    def _verdict(self, unit: Unit, library: Library | None,
                 clients: list[ClientLibrary]) -> tuple[Verdict, str | None, str | None]:
        if library is None:
            if clients:
                names = ", ".join(f"{c.name} ({c.what})" for c in clients)
                return "blocks", None, (f"it links {names}, which waits in C: run its calls "
                                        "in gevent's threadpool or use a pure-Python client")
            return "unknown", None, _UNKNOWN_FIX
        behaviour = library.behaviour_for(unit.version)
        fix = library.fix_for(unit.version)
        if behaviour == "cooperative":
            return "ok", behaviour, fix
        if behaviour == "needs-patcher" and library.patcher in self.patchers:
            return "patched", behaviour, fix
        return "blocks", behaviour, fix


def _registered_patchers() -> frozenset[str]:
    """Names of the patchers registered here; the built-in ones if discovery fails (a
    broken external patcher must not stop a scan)."""
    from .. import registry
    from ..patches import BUILTIN

    try:
        return frozenset(registry().names())
    except Exception:
        return frozenset(BUILTIN)


def scan(paths: list[str] | None = None, scanner: Scanner | None = None) -> ScanReport:
    """Scan shared objects for blocking calls and links, and judge each distribution.

    Args:
        paths: Files or folders to scan; None scans the distributions on ``sys.path``.
        scanner: A configured :class:`Scanner` (knowledge base, patchers); default: patchkit's.

    Returns:
        The report, findings ordered blocks, unknown, patched, ok, then by name.

    Raises:
        ScanPathError: a path does not exist or cannot be read.
    """
    start = time.perf_counter()
    scanner = scanner or Scanner(patchers=_registered_patchers())
    found = inventory(paths)
    findings = [f for f in (scanner.judge(unit) for unit in found.units) if f is not None]
    findings.sort(key=lambda f: (VERDICTS.index(f.verdict), f.name.lower()))
    report = ScanReport(paths=found.roots, findings=findings, errors=scanner.errors)
    report.summary.distributions = found.considered
    report.summary.with_native_code = len(found.units)
    report.summary.elf_files = sum(len(unit.files) for unit in found.units)
    report.summary.parsed = len(scanner.parsed)
    report.summary.seconds = time.perf_counter() - start
    return report
