"""Saved JSON reports read back into the model, and re-rendered without running anything.

``python -m patchkit.audit --render report.json --html out.html`` goes through
:func:`render_saved`; the same :func:`emit_files` writes the HTML and SARIF files
at the end of a live audit, so both paths produce identical output.
"""

from __future__ import annotations

import json
import sys
from typing import Any

from .config import RenderConfig
from .findings import Finding, HubBlock, StackFrame
from .processes import ProcessInfo
from .report import SCHEMA, SCHEMAS, Report

__all__ = ["ReportFormatError", "load_report", "report_from_dict", "finding_from_dict",
           "emit_files", "render_saved", "merge_reports"]

_FINDING_FIELDS = ("kind", "file", "line", "function", "package", "callee", "count",
                   "total_s", "max_s", "module", "name", "original", "message", "fix")


class ReportFormatError(ValueError):
    """The file is not a ``patchkit.audit`` report; the message says why."""


def finding_from_dict(data: dict[str, Any]) -> Finding:
    """A Finding from its ``to_dict`` form (``pids`` and event pids may be missing: /1)."""
    fields = {name: data[name] for name in _FINDING_FIELDS}
    stack = [StackFrame(f["file"], f["line"], f["function"]) for f in data["stack"]]
    events = [HubBlock(e["start_s"], e["duration_s"], e.get("pid"))
              for e in data.get("events", [])]
    return Finding(**fields, stack=stack, events=events,
                   events_omitted=data.get("events_omitted", 0),
                   pids=list(data.get("pids", [])))


def _process(data: dict[str, Any]) -> ProcessInfo:
    return ProcessInfo(data["pid"], data["ppid"], data["role"], list(data["argv"]), 0.0,
                       data["duration_s"], data.get("exit_code"), data.get("ended", True),
                       list(data.get("patched", [])), data.get("findings", 0),
                       data.get("started_s", 0.0))


def report_from_dict(data: dict[str, Any]) -> Report:
    """Rebuild a Report from its ``to_dict`` form (fields added later may be missing).

    Raises:
        ReportFormatError: wrong schema or a missing required field.
    """
    if not isinstance(data, dict) or data.get("schema") not in SCHEMAS:
        raise ReportFormatError(f"not a {SCHEMA} report")
    try:
        return Report(data["target"], list(data["argv"]), data["exit_code"],
                      data["duration_s"], list(data["patched"]),
                      [finding_from_dict(f) for f in data["findings"]], data.get("stopped_by"),
                      python=data.get("python"), gevent=data.get("gevent"),
                      processes=[_process(p) for p in data.get("processes", [])],
                      started_at=data.get("started_at"))
    except (KeyError, TypeError) as exc:
        raise ReportFormatError(f"malformed {SCHEMA} report ({exc!r})") from None


def load_report(path: str) -> Report:
    """Read a JSON report written by ``--json``.

    Raises:
        OSError: the file cannot be read.
        ReportFormatError: it is not valid JSON or not a report.
    """
    with open(path, encoding="utf-8") as handle:
        try:
            data = json.load(handle)
        except json.JSONDecodeError as exc:
            raise ReportFormatError(f"not JSON ({exc})") from None
    return report_from_dict(data)


def merge_reports(reports: list[Report]) -> Report:
    """One report from several (the in-process API writes one per process): processes
    side by side, findings summed per call site, timelines on the earliest one's clock."""
    from dataclasses import replace

    from .processes import combine

    if len(reports) == 1:
        return reports[0]
    origin = min((r.started_at for r in reports if r.started_at is not None), default=0.0)
    groups = []
    for report in reports:
        offset = (report.started_at - origin) if report.started_at is not None else 0.0
        groups.append((report.findings, offset))
    processes = [replace(p, started_s=p.started_s + ((r.started_at or origin) - origin))
                 for r in reports for p in r.processes]
    first = min(reports, key=lambda r: r.started_at if r.started_at is not None else origin)
    end = max((r.started_at or origin) - origin + r.duration_s for r in reports)
    return Report(first.target, list(first.argv), first.exit_code, end,
                  sorted({m for r in reports for m in r.patched}), combine(groups),
                  first.stopped_by, python=first.python, gevent=first.gevent,
                  processes=processes, started_at=origin)


def emit_files(report: Report, html_path: str | None, sarif_path: str | None,
               root: str | None) -> list[str]:
    """Write the HTML and SARIF files asked for; returns one error line per failed file."""
    errors = []
    for path, write in ((html_path, _write_html), (sarif_path, _write_sarif)):
        if path is None:
            continue
        try:
            write(report, path, root)
        except OSError as exc:
            errors.append(f"cannot write {path}: {exc}")
        except Exception as exc:  # a bug of ours must not cost the user the other reports
            errors.append(f"internal error writing {path}: {exc!r}")
    return errors


def _write_html(report: Report, path: str, root: str | None) -> None:
    from .html import write_html

    write_html(report, path)


def _write_sarif(report: Report, path: str, root: str | None) -> None:
    from .sarif import write_sarif

    write_sarif(report, path, root)


def render_saved(config: RenderConfig, prog: str) -> int:
    """Re-render a saved report; 0 on success, 2 when it can't be read, 1 when a write failed."""
    reports = []
    for source in config.sources:
        try:
            reports.append(load_report(source))
        except (OSError, ReportFormatError) as exc:
            print(f"{prog}: error: --render {source}: {exc}", file=sys.stderr)
            return 2
    report = merge_reports(reports)
    if config.json_path is not None:
        from .report import write_json

        try:
            write_json(report, config.json_path)
        except OSError as exc:
            print(f"{prog}: cannot write {config.json_path}: {exc}", file=sys.stderr)
            return 1
    errors = emit_files(report, config.html_path, config.sarif_path, config.root)
    for line in errors:
        print(f"{prog}: {line}", file=sys.stderr)
    if not config.quiet:
        from .report import make_console, render_terminal

        render_terminal(report, make_console())
    return 1 if errors else 0
