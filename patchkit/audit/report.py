"""The audit report: one model, rendered as JSON (``patchkit.audit/1``) and for a terminal.

The JSON file is written atomically (a temporary file in the same folder, then
``os.replace``), so a reader never sees half a report. The terminal view groups
findings by package ("your code" first when it matters most), sorted by total
blocking time, fits the terminal's width, and is plain text in whole lines (never
wrapped or cut) when not writing to a terminal.
"""

from __future__ import annotations

import os
import platform
import sys
import textwrap
from dataclasses import dataclass, field
from typing import IO, Any

from rich.console import Console
from rich.rule import Rule
from rich.text import Text

from patchkit._cli import report_width

from .atomic import write_json_report
from .findings import Finding

__all__ = ["SCHEMA", "Report", "write_json", "render_terminal", "make_console"]

SCHEMA = "patchkit.audit/1"


def _gevent_version() -> str | None:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("gevent")
    except PackageNotFoundError:
        return None


@dataclass
class Report:
    """Everything an audit produced; ``to_dict`` is the JSON contract."""

    target: str
    argv: list[str]
    exit_code: int
    duration_s: float
    patched: list[str]
    findings: list[Finding] = field(default_factory=list)
    stopped_by: str | None = None
    python: str | None = field(default_factory=platform.python_version)
    gevent: str | None = field(default_factory=_gevent_version)

    def to_dict(self) -> dict[str, Any]:
        """The report as JSON-ready data, keys in contract order."""
        return {"schema": SCHEMA, "target": self.target, "argv": list(self.argv),
                "exit_code": self.exit_code, "duration_s": round(self.duration_s, 6),
                "patched": list(self.patched),
                "findings": [f.to_dict() for f in self.findings],
                "stopped_by": self.stopped_by, "python": self.python, "gevent": self.gevent}


def write_json(report: Report, path: str, stdout: IO[str] | None = None) -> None:
    """Write *report* to *path* atomically, or to stdout when *path* is ``-``."""
    write_json_report(report.to_dict(), path, stdout)


_RULE_WIDTH = 80  # a group's heading rule, when the lines themselves are not wrapped


def make_console(file: IO[str] | None = None, width: int | None = None) -> Console:
    """A console for the report: stderr by default; plain, whole lines unless a terminal."""
    out = file or sys.stderr
    return Console(file=out, width=width or report_width(out), highlight=False,
                   soft_wrap=False, emoji=False)


def _short_path(path: str | None) -> str:
    if not path:
        return "?"
    for marker in ("site-packages" + os.sep, "dist-packages" + os.sep):
        if marker in path:
            return path.split(marker, 1)[1]
    try:
        rel = os.path.relpath(path)
    except ValueError:
        return path
    return rel if not rel.startswith(".." + os.sep) else path


def _seconds(value: float) -> str:
    return f"{value * 1000:.1f} ms" if value < 1 else f"{value:.3f} s"


def _wrapped(label: str, label_style: str, text: str, width: int) -> list[Text]:
    """*label* + *text* wrapped to *width* with a 4-space hanging indent, no trailing spaces."""
    lines = textwrap.wrap(label + text, width=max(width - 4, 20), break_long_words=False,
                          break_on_hyphens=False) or [label]
    out = []
    for index, line in enumerate(lines):
        row = Text("    ")
        if index == 0 and label and line.startswith(label):
            row.append(label, style=label_style)
            line = line[len(label):]
        row.append(line)
        out.append(row)
    return out


def _finding_lines(finding: Finding, width: int) -> list[Text]:
    where = f"{_short_path(finding.file)}:{finding.line}" if finding.line else \
        _short_path(finding.file)
    head = Text("  ")
    head.append(f"{finding.kind:<16}",
                style="bold red" if finding.kind == "blocking" else "bold yellow")
    head.append(where, style="cyan")
    if finding.function and finding.function != "<module>":
        head.append(f" in {finding.function}")
    stats = f"x{finding.count}"
    if finding.total_s > 0:
        stats += f", {_seconds(finding.total_s)} total, max {_seconds(finding.max_s)}"
    lines = [head]
    if head.cell_len + 2 + len(stats) <= width:
        head.append("  " + stats, style="magenta")
    else:
        lines.append(Text("    " + stats, style="magenta"))
    callee = f"{finding.callee}: " if finding.callee else ""
    lines += _wrapped(callee, "bold", finding.message, width)
    if finding.fix:
        lines += _wrapped("fix: ", "green", finding.fix, width)
    return lines


def _groups(findings: list[Finding]) -> list[tuple[str, list[Finding]]]:
    grouped: dict[str, list[Finding]] = {}
    for finding in findings:
        grouped.setdefault(finding.package or "your code", []).append(finding)
    order = sorted(grouped.items(), key=lambda item: (-sum(f.total_s for f in item[1]),
                                                      -len(item[1]), item[0]))
    return [(name, sorted(items, key=lambda f: (-f.total_s, -f.count))) for name, items in order]


def render_terminal(report: Report, console: Console) -> None:
    """Print the human-readable report on *console*."""
    blocking = sum(f.total_s for f in report.findings if f.kind == "blocking")
    stopped = f" (stopped by {report.stopped_by})" if report.stopped_by else ""
    console.print(Text.assemble(
        ("patchkit audit", "bold"), f": {_short_path(report.target)} exited "
        f"{report.exit_code}{stopped} after {report.duration_s:.2f} s"))
    console.print(f"{len(report.findings)} finding(s), {_seconds(blocking)} of hub blocking "
                  "above the threshold")
    if not report.findings:
        console.print(Text("  nothing blocked the hub above the threshold", style="green"))
        return
    for name, items in _groups(report.findings):
        total = sum(f.total_s for f in items)
        title = f"{name} - {_seconds(total)}" if total else name
        console.print(Rule(Text(title, style="bold"), align="left", characters="-"),
                      width=min(console.width, _RULE_WIDTH))
        for finding in items:
            for line in _finding_lines(finding, console.width):
                console.print(line, overflow="fold")
