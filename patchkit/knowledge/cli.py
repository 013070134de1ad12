"""``python -m patchkit.knowledge``: look entries up, or list what this environment has.

    python -m patchkit.knowledge psycopg2-binary     # one entry, by import or distribution name
    python -m patchkit.knowledge os.system zmq       # several; standard-library calls too
    python -m patchkit.knowledge --installed         # every known library installed here
    python -m patchkit.knowledge --all               # the whole knowledge base
    python -m patchkit.knowledge --installed --json  # the same as JSON (patchkit.knowledge/1)

Exit status: 0; 1 when a NAME is not in the knowledge base (the others are still shown);
2 for bad usage (one line on stderr, no traceback); 141 when the reader of the output goes
away (``| head -1``), quietly.
"""

from __future__ import annotations

import argparse
import json
import sys
import textwrap
from dataclasses import asdict
from typing import Any

from .._cli import VersionAction, quiet_broken_pipe
from . import KnowledgeBase, KnowledgeError, Library, installed_version, knowledge_base

__all__ = ["main", "entry_dict", "SCHEMA"]

PROG = "python -m patchkit.knowledge"
SCHEMA = "patchkit.knowledge/1"

_GIL_TEXT = {"released": "released in its long C calls: gevent's threadpool lets the hub run",
             "held": "held in its long C calls: gevent's threadpool does not free the hub"}


def _bare(version: str | None) -> str | None:
    return None if version is None or version.startswith("Python ") else version


def entry_dict(library: Library, version: str | None) -> dict[str, Any]:
    """*library* as JSON-ready data, with its installed *version* and what that means."""
    data = asdict(library)
    data.update(name=library.name, installed=version,
                behaviour_installed=library.behaviour_for(_bare(version)) if version else None,
                fix_installed=library.fix_for(_bare(version)) if version else None)
    return data


def _behaviour_text(library: Library) -> str:
    if library.otherwise is None or library.affected.strip() == "*":
        return library.behaviour
    return f"{library.behaviour} for versions {library.affected}; {library.otherwise} otherwise"


def _describe(library: Library, version: str | None) -> str:
    names = [*library.imports, *library.calls]
    lines = [f"{library.name} ({', '.join(names)}) - {library.category}"]
    rows: list[tuple[str, str]] = []
    if version is not None:
        rows.append(("installed", f"{version} -> {library.behaviour_for(_bare(version))}"))
    rows.append(("behaviour", _behaviour_text(library)))
    rows.append(("fix", library.fix_for(_bare(version))))
    if library.patcher:
        rows.append(("patcher", f"{library.patcher} (patchkit applies it by default)"))
    if library.gil:
        rows.append(("GIL", _GIL_TEXT[library.gil]))
    if library.evidence:
        rows.append(("evidence", ", ".join(f"audits/{case}" for case in library.evidence)))
    if library.no_evidence:
        rows.append(("no run", library.no_evidence))
    if library.note:
        rows.append(("note", library.note))
    rows.append(("source", library.source))
    for label, text in rows:
        wrapped = textwrap.wrap(text, 88, initial_indent=f"  {label + ':':<11}",
                                subsequent_indent=" " * 13, break_on_hyphens=False)
        lines.extend(wrapped)
    return "\n".join(lines)


def _table(entries: list[tuple[Library, str | None]]) -> str:
    rows = [(lib.name, version or "-",
             lib.behaviour_for(_bare(version)) if version else _behaviour_text(lib),
             lib.patcher or "-") for lib, version in entries]
    header = ("library", "version", "behaviour", "patcher")
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(4)]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip()
             for row in [header, *rows]]
    blocking = [lib for lib, version in entries
                if lib.behaviour_for(_bare(version)) != "cooperative"]
    if blocking:
        lines.append("")
        lines.append("What to do:")
        for lib in blocking:
            version = dict((id(k), v) for k, v in entries).get(id(lib))
            lines.extend(textwrap.wrap(f"{lib.name}: {lib.fix_for(_bare(version))}", 88,
                                       initial_indent="  ", subsequent_indent="    "))
    return "\n".join(lines)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG, description="How libraries behave under gevent, and what to do about it.",
        epilog="Exit status: 0; 1 when a NAME is not in the knowledge base (the others are "
               "still shown); 2 for bad usage.")
    parser.add_argument("names", nargs="*", metavar="NAME",
                        help="an import, distribution or standard-library call name "
                             "(psycopg2, psycopg2-binary, os.system)")
    parser.add_argument("--installed", action="store_true",
                        help="list every known library installed in this environment")
    parser.add_argument("--all", action="store_true", help="list the whole knowledge base")
    parser.add_argument("--json", action="store_true", help="print JSON (patchkit.knowledge/1)")
    parser.add_argument("--version", action=VersionAction)
    return parser


def _select(kb: KnowledgeBase, options: argparse.Namespace) -> tuple[
        list[tuple[Library, str | None]], list[str]]:
    if options.names:
        found, missing = [], []
        for name in options.names:
            library = kb.lookup(name)
            if library is None:
                missing.append(name)
            else:
                found.append((library, installed_version(library)))
        return found, missing
    everything = [(lib, installed_version(lib)) for lib in kb.libraries]
    if options.all:
        return everything, []
    return [(lib, version) for lib, version in everything if version is not None], []


@quiet_broken_pipe
def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit status (see the module docstring)."""
    parser = _parser()
    options = parser.parse_args(sys.argv[1:] if argv is None else argv)
    modes = bool(options.names) + options.installed + options.all
    if modes != 1:
        parser.error("give NAME(s), --installed or --all (exactly one of them)")
    try:
        kb = knowledge_base()
    except KnowledgeError as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 2
    entries, missing = _select(kb, options)
    if options.json:
        print(json.dumps({"schema": SCHEMA, "libraries": [entry_dict(lib, version)
                                                          for lib, version in entries],
                          "unknown": missing}, indent=2))
    elif options.names:
        print("\n\n".join(_describe(lib, version) for lib, version in entries))
    else:
        print(_table(entries))
    for name in missing:
        print(f"{PROG}: {name!r} is not in the knowledge base (`{PROG} --all` lists what "
              "is); `python -m patchkit.audit` shows whether it blocks", file=sys.stderr)
    return 1 if missing else 0
