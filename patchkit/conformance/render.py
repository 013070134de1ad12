"""Rendering a :class:`~patchkit.conformance.model.Report`: rich for terminals, Markdown for docs.

Both views come from the same model; the rich renderer takes an injected ``Console``
and escapes test ids and causes (they may contain ``[`` markup).
"""

from __future__ import annotations

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from .model import COLUMNS, OUTCOMES, ColumnRun, Divergence, Report, counts

__all__ = ["render_rich", "render_markdown", "short_id", "merged_divergences"]

_HEAD = ("run",) + OUTCOMES
_STYLE = {"failed": "red", "errored": "red", "hung": "magenta", "crashed": "bold red"}


def short_id(module: str, test_id: str) -> str:
    """*test_id* without its ``test.<module>.`` prefix."""
    prefix = f"test.{module}."
    return test_id[len(prefix):] if test_id.startswith(prefix) else test_id


def _header(report: Report) -> str:
    kind = "quick subset" if report.quick else "full"
    return (f"CPython {report.python}, gevent {report.gevent}, patchkit {report.patchkit}; "
            f"{kind}, {report.jobs} job(s), per-test timeout {report.timeout:g} s, "
            f"resources: {','.join(report.resources) or 'none'}; "
            + ("" if report.threadpool_idle is None
               else f"gevent threadpool idle {report.threadpool_idle:g} s; ")
            + f"started {report.started}, "
            f"took {report.wall_time:.0f} s")


def _matrix_rows(report: Report) -> list[tuple[str, str, dict[str, int], ColumnRun]]:
    rows: list[tuple[str, str, dict[str, int], ColumnRun]] = []
    for module in report.modules():
        for column in COLUMNS:
            run = report.run_for(module, column)
            if run is not None:
                rows.append((module, column, counts(run), run))
    return rows


def merged_divergences(report: Report) -> list[tuple[Divergence, str]]:
    """Divergences with the columns that show them; identical ones in both columns merge.

    Returns:
        ``(divergence, "gevent" | "patchkit" | "both")`` in report order.
    """
    seen: dict[tuple[str, str, str, str], int] = {}
    rows: list[tuple[Divergence, str]] = []
    for d in report.divergences:
        key = (d.test_id, d.unpatched, d.outcome, d.cause)
        if key in seen and rows[seen[key]][0].column != d.column:
            rows[seen[key]] = (rows[seen[key]][0], "both")
            continue
        seen[key] = len(rows)
        rows.append((d, d.column))
    return rows


def render_rich(report: Report, console: Console) -> None:
    """Print the matrix, the divergences and any abnormal subprocess endings."""
    console.print(f"[bold]patchkit conformance[/bold]: {escape(_header(report))}")
    table = Table("module", "column", *_HEAD, "restarts", "time")
    previous = ""
    for module, column, cells, run in _matrix_rows(report):
        values = [f"[{_STYLE[k]}]{v}[/]" if v and k in _STYLE else str(v)
                  for k, v in cells.items()]
        table.add_row(module if module != previous else "", column, *values,
                      str(run.restarts), f"{run.wall_time:.0f} s",
                      end_section=column == COLUMNS[-1])
        previous = module
    console.print(table)
    if report.divergences:
        diff = Table("module", "test", "column", "unpatched → patched", "cause", "owner",
                     title="outcomes that differ from unpatched")
        for d, columns in merged_divergences(report):
            diff.add_row(d.module, escape(short_id(d.module, d.test_id)), columns,
                         f"{d.unpatched} → {d.outcome}", escape(d.cause), d.owner)
        console.print(diff)
    else:
        console.print("no outcome differs from unpatched")
    for run in report.runs:
        for problem in run.problems:
            first = problem.splitlines()[0] if problem else ""
            console.print(f"[bold red]{run.module} {run.column}[/]: {escape(first)}")


def _md_cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def render_markdown(report: Report) -> str:
    """The matrix and the divergences as Markdown tables (for docs/conformance.md)."""
    lines = [_header(report), "",
             "| module | column | " + " | ".join(_HEAD) + " | restarts | time |",
             "|---|---|" + "---:|" * (len(_HEAD) + 2)]
    for module, column, cells, run in _matrix_rows(report):
        lines.append(f"| {module} | {column} | " + " | ".join(str(v) for v in cells.values())
                     + f" | {run.restarts} | {run.wall_time:.0f} s |")
    lines += ["", "| module | test | column | unpatched → patched | cause | owner |",
              "|---|---|---|---|---|---|"]
    for d, columns in merged_divergences(report):
        lines.append(f"| {d.module} | `{_md_cell(short_id(d.module, d.test_id))}` | {columns} "
                     f"| {d.unpatched} → {d.outcome} | {_md_cell(d.cause)} | {d.owner} |")
    return "\n".join(lines) + "\n"
