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

import sys
import textwrap
from typing import IO

from rich.console import Console
from rich.rule import Rule
from rich.text import Text

from patchkit._cli import report_width

from .._atomic import write_json_report
from ..model import Finding, ProcessInfo, Report
from .display import short_path, visible

__all__ = ["write_json", "render_terminal", "make_console",
           "visible"]

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
    where = f"{short_path(finding.file)}:{finding.line}" if finding.line else \
        short_path(finding.file)
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
                                visible(f": {short_path(report.target)} {status}")))
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
