"""What one ELF shared object links and which blocking libc calls it imports (pyelftools).

Only the dynamic section and the dynamic symbol table are read: ``DT_NEEDED`` entries
(the libraries it links) and the *undefined* dynamic symbols (the functions it calls in
other libraries). Symbols are parsed only when the symbol names mention a blocking call
at all, and when the object has a GNU hash table only those before its ``symoffset``: the
hashed (exported, defined) symbols all come after it, so a large library's thousands of
exports are never parsed. A symbol counts as a libc call
when its version requirement names a C library file (glibc's ``GLIBC_*`` from
``libc.so.6`` or, before glibc 2.34, ``libpthread``/``librt``/``libresolv``), or it has
no version at all (musl).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import IO, Any

__all__ = ["CATEGORIES", "BLOCKING", "ElfInfo", "NotElf", "read_elf", "categorize"]

#: Blocking libc entry points, by what they wait for.
CATEGORIES: dict[str, tuple[str, ...]] = {
    "network": ("connect", "accept", "accept4", "recv", "recvfrom", "recvmsg", "recvmmsg",
                "send", "sendto", "sendmsg", "sendmmsg"),
    "dns": ("getaddrinfo", "gethostbyname", "gethostbyname2", "gethostbyname_r",
            "gethostbyname2_r", "gethostbyaddr", "gethostbyaddr_r", "getnameinfo",
            "res_query", "res_search", "res_nquery", "res_nsearch"),
    "poll": ("poll", "ppoll", "select", "pselect", "epoll_wait", "epoll_pwait",
             "epoll_pwait2"),
    "sleep": ("sleep", "usleep", "nanosleep", "clock_nanosleep"),
}

#: Symbol name -> category; fortified (``__recv_chk``) and internal (``__res_query``)
#: spellings map to the plain name.
BLOCKING: dict[str, str] = {name: category for category, names in CATEGORIES.items()
                            for name in names}
_ALIASES = {f"__{name}_chk": name for name in ("recv", "recvfrom", "poll", "ppoll")}
_ALIASES.update({f"__{name}": name for name in ("res_query", "res_search", "res_nquery",
                                                 "res_nsearch")})

# Each name as it ends in a string table, to skip objects that mention none of them (no
# leading NUL: linkers share a string's tail, so "poll" may be the end of "SSL_poll").
_NEEDLES = tuple(name.encode() + b"\0" for name in (*BLOCKING, *_ALIASES))

_LIBC_FILES = ("libc.so", "libpthread.so", "librt.so", "libresolv.so", "libanl.so",
               "ld-musl", "libc.musl")


class NotElf(ValueError):
    """The file is not an ELF shared object (or is truncated)."""


@dataclass(frozen=True)
class ElfInfo:
    """The facts read from one shared object.

    Attributes:
        soname: Its ``DT_SONAME``, if any.
        needed: ``DT_NEEDED`` names, in file order.
        blocking: Blocking libc functions it imports (plain names, sorted).
    """

    soname: str | None
    needed: tuple[str, ...]
    blocking: tuple[str, ...]


def categorize(symbols: tuple[str, ...] | list[str]) -> dict[str, list[str]]:
    """Group blocking symbol names by :data:`CATEGORIES` (categories in that order)."""
    grouped: dict[str, list[str]] = {}
    for category in CATEGORIES:
        names = sorted(name for name in symbols if BLOCKING.get(name) == category)
        if names:
            grouped[category] = names
    return grouped


@dataclass(frozen=True)
class _Dynamic:
    soname: str | None
    needed: tuple[str, ...]
    gnu_hash: int | None  # the GNU hash table's address (DT_GNU_HASH)


def _sections_by_type(elf: Any) -> dict[str, Any]:
    """The first section of each type we read, found from the section headers alone.

    ``get_section_by_name`` makes pyelftools build every section of the file for its name
    map, and building the GNU hash section parses that whole table: most of the time on a
    large library. Parsing the headers and building only the four sections needed is not.
    """
    from elftools.common.utils import struct_parse

    wanted = {"SHT_DYNAMIC", "SHT_DYNSYM", "SHT_GNU_versym", "SHT_GNU_verneed"}
    indexes: dict[str, int] = {}
    for index in range(elf.num_sections()):
        header = struct_parse(elf.structs.Elf_Shdr, elf.stream,
                              stream_pos=elf["e_shoff"] + index * elf["e_shentsize"])
        if header["sh_type"] in wanted:
            indexes.setdefault(header["sh_type"], index)
    return {kind: elf.get_section(index) for kind, index in indexes.items()}


def _dynamic(section: Any) -> _Dynamic:
    if section is None:
        return _Dynamic(None, (), None)
    soname, needed, gnu_hash = None, [], None
    for tag in section.iter_tags():
        kind = tag.entry.d_tag
        if kind == "DT_NEEDED":
            needed.append(tag.needed)
        elif kind == "DT_SONAME":
            soname = tag.soname
        elif kind == "DT_GNU_HASH":
            gnu_hash = tag.entry.d_ptr
    return _Dynamic(soname, tuple(needed), gnu_hash)


def _version_files(section: Any) -> dict[int, str]:
    """Version index -> the library file that must provide it (from ``.gnu.version_r``)."""
    files: dict[int, str] = {}
    if section is None:
        return files
    for verneed, auxiliaries in section.iter_versions():
        for aux in auxiliaries:
            files[aux.entry["vna_other"]] = verneed.name
    return files


def _unhashed_count(elf: Any, gnu_hash: int | None, total: int) -> int:
    """How many leading dynamic symbols can be undefined (the GNU hash's ``symoffset``).

    Only that header word is read, at the table's file offset: building pyelftools'
    ``GNUHashSection`` would parse the whole bloom filter and buckets, which was most
    of the time spent on a large library.
    """
    if gnu_hash is None:
        return total
    offset = next(iter(elf.address_offsets(gnu_hash, 8)), None)
    if offset is None:
        return total
    elf.stream.seek(offset + 4)
    raw = elf.stream.read(4)
    if len(raw) != 4:
        return total
    return min(int.from_bytes(raw, "little" if elf.little_endian else "big"), total)


def _blocking_imports(elf: Any, sections: dict[str, Any], gnu_hash: int | None) -> tuple[str, ...]:
    dynsym = sections.get("SHT_DYNSYM")
    if dynsym is None:
        return ()
    # Most extensions call none of these: one scan of the names saves parsing each symbol.
    names = dynsym.stringtable.data()
    if not any(needle in names for needle in _NEEDLES):
        return ()
    total = dynsym.num_symbols()
    versym = sections.get("SHT_GNU_versym")
    files = _version_files(sections.get("SHT_GNU_verneed")) if versym is not None else {}
    found = set()
    for index in range(_unhashed_count(elf, gnu_hash, total)):
        symbol = dynsym.get_symbol(index)
        name = _ALIASES.get(symbol.name, symbol.name)
        if name not in BLOCKING or symbol["st_shndx"] != "SHN_UNDEF":
            continue
        if versym is not None:
            version = versym.get_symbol(index).entry["ndx"]
            owner = files.get(version) if isinstance(version, int) else None
            if owner is not None and not owner.startswith(_LIBC_FILES):
                continue
        found.add(name)
    return tuple(sorted(found))


def read_elf(stream: IO[bytes]) -> ElfInfo:
    """Read *stream* (an open binary file) as an ELF shared object.

    Raises:
        NotElf: it is not ELF, or is malformed.
    """
    from elftools.common.exceptions import ELFError
    from elftools.elf.elffile import ELFFile

    try:
        elf = ELFFile(stream)
        sections = _sections_by_type(elf)
        dynamic = _dynamic(sections.get("SHT_DYNAMIC"))
        blocking = _blocking_imports(elf, sections, dynamic.gnu_hash)
        return ElfInfo(dynamic.soname, dynamic.needed, blocking)
    except (ELFError, ValueError, KeyError, IndexError, OSError) as exc:
        raise NotElf(f"not a readable ELF shared object ({type(exc).__name__}: {exc})") from None
