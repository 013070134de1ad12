"""The audit report: one model, rendered as JSON (``patchkit.audit/2``) and for a terminal.

The JSON file is written atomically (a temporary file in the same folder, then
``os.replace``), so a reader never sees half a report. The terminal view groups
findings by package ("your code" first when it matters most), sorted by total
blocking time, fits the terminal's width, and is plain text in whole lines (never
wrapped or cut) when not writing to a terminal.

A report may come from a saved file (``--render``), so every value from it goes
through :func:`visible` before it is printed: an escape sequence or a newline in a
file name shows as ``\\x1b`` or ``\\x0a`` instead of recolouring the terminal or
forging a report line. Values are printed as rich ``Text``, never parsed as markup.
"""

from __future__ import annotations

import os
import platform
import re
import sys
import textwrap
from dataclasses import dataclass, field
from typing import IO, Any

from rich.console import Console
from rich.rule import Rule
from rich.text import Text

from patchkit._cli import report_width
from patchkit._redact import redact_argv, redact_command

from .._atomic import write_json_report
from .findings import Finding
from .processes import ProcessInfo

__all__ = ["SCHEMA", "SCHEMAS", "Report", "write_json", "render_terminal", "make_console",
           "visible"]

SCHEMA = "patchkit.audit/2"
SCHEMAS = ("patchkit.audit/1", SCHEMA)  # what --render reads; /1 has no processes


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
    processes: list[ProcessInfo] = field(default_factory=list)
    started_at: float | None = None

    def __post_init__(self) -> None:
        # Reports are shared (CI artifacts): secret-looking argument values are redacted.
        self.target = redact_command(self.target)
        self.argv = redact_argv(self.argv)

    def to_dict(self) -> dict[str, Any]:
        """The report as JSON-ready data, keys in contract order."""
        return {"schema": SCHEMA, "target": self.target, "argv": list(self.argv),
                "exit_code": self.exit_code, "duration_s": round(self.duration_s, 6),
                "patched": list(self.patched),
                "findings": [f.to_dict() for f in self.findings],
                "stopped_by": self.stopped_by, "python": self.python, "gevent": self.gevent,
                "started_at": self.started_at,
                "processes": [p.to_dict() for p in self.processes]}


def write_json(report: Report, path: str, stdout: IO[str] | None = None) -> None:
    """Write *report* to *path* atomically, or to stdout when *path* is ``-``."""
    write_json_report(report.to_dict(), path, stdout)


_RULE_WIDTH = 80  # a group's heading rule, when the lines themselves are not wrapped


def make_console(file: IO[str] | None = None, width: int | None = None) -> Console:
    """A console for the report: stderr by default; plain, whole lines unless a terminal."""
    out = file or sys.stderr
    return Console(file=out, width=width or report_width(out), highlight=False,
                   soft_wrap=False, emoji=False)


# C0 (tab and newline too), DEL, C1 -- ESC starts a sequence, and 0x9b is CSI on its
# own in some terminals -- the Unicode line separators and the bidirectional overrides,
# which reorder what a line appears to say.
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def visible(value: object) -> str:
    """*value* as text a terminal shows as it is: every control character (C0, DEL, C1,
    line separators, bidirectional overrides) written as its ``\\xNN``/``\\uNNNN`` escape."""
    return _CONTROL.sub(_escape, str(value))


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
    label, text = visible(label), visible(text)
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


def _finding_lines(finding: Finding, width: int, multi: bool = False) -> list[Text]:
    where = f"{_short_path(finding.file)}:{finding.line}" if finding.line else \
        _short_path(finding.file)
    head = Text("  ")
    if finding.file is None:
        where = ""
    kind = visible(finding.kind)
    head.append(f"{kind:<16} " if len(kind) >= 16 else f"{kind:<16}",
                style="bold red" if finding.kind == "blocking" else "bold yellow")
    head.append(visible(where), style="cyan")
    if finding.function and finding.function != "<module>":
        head.append(visible(f" in {finding.function}"))
    stats = f"x{finding.count}"
    if finding.total_s > 0:
        stats += f", {_seconds(finding.total_s)} total, max {_seconds(finding.max_s)}"
    stats = visible(stats)
    lines = [head]
    if head.cell_len + 2 + len(stats) <= width:
        head.append("  " + stats, style="magenta")
    else:
        lines.append(Text("    " + stats, style="magenta"))
    if len(finding.pids) > 1 or (finding.pids and multi):
        lines.append(Text(visible("    in pid " + ", ".join(str(p) for p in finding.pids[:8])
                                  + (" ..." if len(finding.pids) > 8 else "")), style="dim"))
    callee = f"{finding.callee}: " if finding.callee else ""
    lines += _wrapped(callee, "bold", finding.message, width)
    if finding.fix:
        lines += _wrapped("fix: ", "green", finding.fix, width)
    return lines


def _group_name(finding: Finding) -> str:
    if finding.package:
        return finding.package
    return {"loop-lag": "the hub's loop", "unaudited-process": "processes"}.get(
        finding.kind, "your code")


def _groups(findings: list[Finding]) -> list[tuple[str, list[Finding]]]:
    grouped: dict[str, list[Finding]] = {}
    for finding in findings:
        grouped.setdefault(_group_name(finding), []).append(finding)
    order = sorted(grouped.items(), key=lambda item: (-sum(f.total_s for f in item[1]),
                                                      -len(item[1]), item[0]))
    return [(name, sorted(items, key=lambda f: (-f.total_s, -f.count))) for name, items in order]


def render_terminal(report: Report, console: Console) -> None:
    """Print the human-readable report on *console*."""
    blocking = sum(f.total_s for f in report.findings if f.kind == "blocking")
    if report.stopped_by == "still running":  # SIGUSR2, or the in-process API's report
        status = f"still running after {report.duration_s:.2f} s (the report so far)"
    else:
        stopped = f" (stopped by {report.stopped_by})" if report.stopped_by else ""
        status = f"exited {report.exit_code}{stopped} after {report.duration_s:.2f} s"
    console.print(Text.assemble(("patchkit audit", "bold"),
                                visible(f": {_short_path(report.target)} {status}")))
    console.print(f"{len(report.findings)} finding(s), {_seconds(blocking)} of hub blocking "
                  "above the threshold")
    if len(report.processes) > 1:
        _render_processes(report.processes, console)
    if not report.findings:
        console.print(Text("  nothing blocked the hub above the threshold", style="green"))
        return
    for name, items in _groups(report.findings):
        total = sum(f.total_s for f in items if f.kind == "blocking")
        title = f"{name} - {_seconds(total)}" if total else name
        console.print(Rule(Text(visible(title), style="bold"), align="left", characters="-"),
                      width=min(console.width, _RULE_WIDTH))
        for finding in items:
            for line in _finding_lines(finding, console.width, len(report.processes) > 1):
                console.print(line, overflow="fold")


def _process_lines(info: ProcessInfo, same_command: bool = False) -> list[str]:
    import shlex

    if info.ended:
        status = f"exited {info.exit_code}" if info.exit_code is not None else "ended"
    else:
        status = "no final report (still running, or killed): as of its last flush"
    patched = "patched" if info.patched else "never patched"
    head = (f"  pid {info.pid} ({info.role}, parent {info.ppid}): {status} after "
            f"{info.duration_s:.2f} s, {patched}, {info.findings} finding(s)")
    lines = [head] if same_command else [head, f"    {_clip(shlex.join(info.argv), 150)}"]
    return [visible(line) for line in lines]


def _clip(text: str, width: int) -> str:
    return text if len(text) <= width else text[:width - 3] + "..."


def _render_processes(processes: list[ProcessInfo], console: Console) -> None:
    console.print(Rule(Text(f"{len(processes)} processes", style="bold"), align="left",
                       characters="-"), width=min(console.width, _RULE_WIDTH))
    argv = {info.pid: info.argv for info in processes}
    for info in processes:
        same = info.role == "fork" and argv.get(info.ppid) == info.argv
        for line in _process_lines(info, same):
            console.print(Text(line), overflow="fold")
