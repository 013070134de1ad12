"""The scan report for people (a rich table; plain text in whole lines when not a terminal)
and as JSON.

The table and the JSON come from the same :class:`~patchkit.static.model.ScanReport`.
The JSON file is written atomically, so a reader never sees half a report.
"""

from __future__ import annotations

import sys
from typing import IO

from rich import box
from rich.console import Console
from rich.markup import escape
from rich.padding import Padding
from rich.table import Table
from rich.text import Text

from .._atomic import write_json_report
from .._cli import report_width
from .model import ScanReport, StaticFinding

__all__ = ["render", "write_json", "make_console", "summary_line"]

_STYLE = {"blocks": "bold red", "unknown": "yellow", "patched": "green", "ok": "dim"}
_LABEL = {"blocks": "blocks", "unknown": "unknown", "patched": "patched", "ok": "ok"}


def make_console(file: IO[str] | None = None, width: int | None = None) -> Console:
    """A console on *file* (stdout by default): colours and the terminal's width only on a
    terminal; otherwise the table's lines are never cut."""
    out = file or sys.stdout
    return Console(file=out, width=width or report_width(out), highlight=False, emoji=False)


def _calls(finding: StaticFinding) -> str:
    return " ".join(finding.symbols) or "-"


def _links(finding: StaticFinding) -> str:
    return " ".join(f"{c.name}{'*' if c.bundled else ''}" for c in finding.client_libraries) or "-"


def summary_line(report: ScanReport) -> str:
    """``scanned N distributions (M with native code, K shared objects) in X s``."""
    s = report.summary
    plural = "" if s.distributions == 1 else "s"
    return (f"scanned {s.distributions} distribution{plural} ({s.with_native_code} with native "
            f"code, {s.elf_files} shared objects, {s.parsed} parsed) in {s.seconds:.2f} s")


def _table(report: ScanReport) -> Table:
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False)
    table.add_column("distribution", overflow="fold")
    table.add_column("verdict", no_wrap=True)
    table.add_column("blocking calls", overflow="fold")
    table.add_column("links", overflow="fold")
    table.add_column("patcher", no_wrap=True)
    for finding in report.findings:
        name = finding.name + (f" {finding.version}" if finding.version else "")
        table.add_row(escape(name), f"[{_STYLE[finding.verdict]}]{_LABEL[finding.verdict]}[/]",
                      _calls(finding), escape(_links(finding)), finding.patcher or "-")
    return table


def _details(finding: StaticFinding, console: Console) -> None:
    for scanned in finding.files:
        calls = " ".join(scanned.symbols) or "-"
        console.print(Padding(Text(f"{scanned.path}: {calls}", style="dim"), (0, 0, 0, 4),
                              expand=False))


def render(report: ScanReport, console: Console, verbose: bool = False) -> None:
    """Print the findings as a table, what to do for each, unreadable files and the timing.

    Args:
        report: The scan's report.
        console: Where to print (see :func:`make_console`).
        verbose: Also list every flagged shared object with its blocking calls.
    """
    if not report.findings:
        console.print("No native code that blocks the hub was found.")
    else:
        console.print(_table(report))
        if any(c.bundled for f in report.findings for c in f.client_libraries):
            console.print("* bundled copy inside the distribution", style="dim")
        console.print("What to do:")
        for finding in report.findings:
            label = _LABEL[finding.verdict]
            line = Text.assemble((finding.name, _STYLE[finding.verdict]),
                                 f" ({label}): {finding.fix or '-'}")
            console.print(Padding(line, (0, 0, 0, 2), expand=False))
            if verbose:
                _details(finding, console)
    for error in report.errors:
        console.print(f"[yellow]unreadable:[/] {escape(error.path)}: {escape(error.error)}")
    console.print(summary_line(report), style="dim")


def write_json(report: ScanReport, path: str, stdout: IO[str] | None = None) -> None:
    """Write the report's JSON to *path* atomically, or to stdout when *path* is ``-``."""
    write_json_report(report.to_dict(), path, stdout)
