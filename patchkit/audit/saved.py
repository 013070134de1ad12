"""Saved JSON reports read back into the model, and re-rendered without running anything.

``python -m patchkit.audit --render report.json --html out.html`` goes through
:func:`render_saved`; the same :func:`emit_files` writes the HTML and SARIF files
at the end of a live audit, so both paths produce identical output.
"""

from __future__ import annotations

import json
import math
import sys
from typing import Any, Callable, get_args

from .config import RenderConfig
from ..model import SCHEMA, SCHEMAS, Kind, Report, build_report
from .display import visible

__all__ = ["ReportFormatError", "load_report", "report_from_dict",
           "emit_files", "render_saved", "merge_reports"]

class ReportFormatError(ValueError):
    """The file is not a ``patchkit.audit`` report; the message says why."""


# -- the schema, checked once on load: every field's type, named by its JSON path -------

_Path = tuple[str | int, ...]
_Check = Callable[[Any, _Path], None]


class _Constant:
    """``NaN``, ``Infinity`` or ``-Infinity`` as read (json.load accepts them): no number,
    so the field holding one fails its check with its path."""

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name


def _where(path: _Path) -> str:
    text = "".join(f"[{key}]" if isinstance(key, int) else f".{key}" for key in path)
    return text.lstrip(".") or "the top level"


def _shown(value: Any) -> str:
    if isinstance(value, _Constant):
        return value.name
    if isinstance(value, (dict, list)):
        return "an object" if isinstance(value, dict) else "a list"
    if isinstance(value, str):
        return json.dumps(value if len(value) <= 40 else value[:37] + "...")
    text = json.dumps(value)  # null, true, a number
    return text if len(text) <= 40 else f"{text[:37]}..."


def _bad(path: _Path, expected: str, value: Any) -> ReportFormatError:
    return ReportFormatError(f"{_where(path)}: expected {expected}, got {_shown(value)}")


def _is_text(value: Any) -> bool:
    if type(value) is not str:
        return False
    if value.isascii():
        return True
    try:  # a lone surrogate ("\ud800" in the file) cannot be written out as UTF-8
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _scalar(expected: str, test: Callable[[Any], bool], nullable: bool = False) -> _Check:
    expected += " or null" if nullable else ""

    def check(value: Any, path: _Path) -> None:
        if test(value) or (nullable and value is None):
            return
        if "string" in expected and type(value) is str:
            raise _bad(path, "text (no lone surrogate)", value)
        raise _bad(path, expected, value)
    return check


# Bounds that keep every sum, product and format in the renderers finite: far beyond any
# run (31,700 years; a 64-bit count), and a merge of a few reports cannot overflow them.
_SECONDS_BOUND = 1e12
_INT_BOUND = 2 ** 63


def _number(integer: bool, nullable: bool = False, negative: bool = True) -> _Check:
    """An integer, or a number of seconds (an integer or a float), within the bounds; not
    below 0 unless *negative* (a count, a duration)."""
    kinds = (int,) if integer else (int, float)
    bound = _INT_BOUND if integer else _SECONDS_BOUND
    expected = ("an integer" if integer else "a number") + (" or null" if nullable else "")

    def check(value: Any, path: _Path) -> None:
        if not negative and type(value) in kinds and value < 0:
            raise _bad(path, f"{expected} of 0 or more", value)
        if type(value) in kinds and -bound < value < bound or nullable and value is None:
            return
        if not integer and (isinstance(value, _Constant) or value != value
                            or value in (math.inf, -math.inf)):
            raise _bad(path, "a finite number", value)
        if type(value) in kinds:
            raise _bad(path, "a 64-bit integer" if integer else
                       f"a number of seconds within ±{_SECONDS_BOUND:g}", value)
        raise _bad(path, expected, value)
    return check


def _list(item: _Check) -> _Check:
    def check(value: Any, path: _Path) -> None:
        if type(value) is not list:
            raise _bad(path, "a list", value)
        for index, entry in enumerate(value):
            item(entry, (*path, index))
    return check


def _object(required: dict[str, _Check], optional: dict[str, _Check] | None = None) -> _Check:
    """An object with *required* and *optional* fields; others are ignored (later
    versions only add fields)."""
    def check(value: Any, path: _Path) -> None:
        if type(value) is not dict:
            raise _bad(path, "an object", value)
        for name, field in required.items():
            if name not in value:
                raise ReportFormatError(f"{_where((*path, name))}: missing")
            field(value[name], (*path, name))
        for name, field in (optional or {}).items():
            if name in value:
                field(value[name], (*path, name))
    return check


_KINDS = get_args(Kind)
_INT = _number(integer=True)
_INT_OR_NULL = _number(integer=True, nullable=True)
_NUMBER = _number(integer=False)
_NUMBER_OR_NULL = _number(integer=False, nullable=True)
_COUNT = _number(integer=True, negative=False)
_DURATION = _number(integer=False, negative=False)
_TEXT = _scalar("a string", _is_text)
_TEXT_OR_NULL = _scalar("a string", _is_text, nullable=True)
_BOOL = _scalar("true or false", lambda v: type(v) is bool)
_KIND = _scalar("one of " + ", ".join(_KINDS), lambda v: type(v) is str and v in _KINDS)
_FRAME = _object({"file": _TEXT, "line": _INT, "function": _TEXT})
_EVENT = _object({"start_s": _NUMBER, "duration_s": _DURATION}, {"pid": _INT_OR_NULL})
_FINDING = _object(
    {"kind": _KIND, "file": _TEXT_OR_NULL, "line": _INT_OR_NULL, "function": _TEXT_OR_NULL,
     "package": _TEXT_OR_NULL, "callee": _TEXT_OR_NULL, "count": _COUNT, "total_s": _DURATION,
     "max_s": _DURATION, "module": _TEXT_OR_NULL, "name": _TEXT_OR_NULL,
     "original": _TEXT_OR_NULL, "stack": _list(_FRAME), "message": _TEXT,
     "fix": _TEXT_OR_NULL},
    {"events": _list(_EVENT), "events_omitted": _COUNT, "pids": _list(_INT)})
_PROCESS = _object(
    {"pid": _INT, "ppid": _INT, "role": _TEXT, "argv": _list(_TEXT), "duration_s": _DURATION},
    {"exit_code": _INT_OR_NULL, "ended": _BOOL, "patched": _list(_TEXT), "findings": _COUNT,
     "started_s": _NUMBER})
_REPORT = _object(
    {"target": _TEXT, "argv": _list(_TEXT), "exit_code": _INT, "duration_s": _DURATION,
     "patched": _list(_TEXT), "findings": _list(_FINDING)},
    {"stopped_by": _TEXT_OR_NULL, "python": _TEXT_OR_NULL, "gevent": _TEXT_OR_NULL,
     "started_at": _NUMBER_OR_NULL, "processes": _list(_PROCESS)})
"""``patchkit.audit/1`` and ``/2`` (/1 lacks what is optional here; see docs/audit.md)."""


def _validate(data: Any) -> None:
    """Check *data* against the report schema.

    Raises:
        ReportFormatError: the first bad field, by its JSON path
            (``findings[3].count: expected an integer, got "many"``).
    """
    if type(data) is not dict:
        raise ReportFormatError(f"not a {SCHEMA} report (the top level is {_shown(data)}, "
                                "not an object)")
    schema = data.get("schema")
    if type(schema) is not str or schema not in SCHEMAS:
        raise ReportFormatError(f"not a {SCHEMA} report (schema: {_shown(schema)}; "
                                f"--render reads {' and '.join(SCHEMAS)})")
    _REPORT(data, ())


# -- the model, from checked data ---------------------------------------------------------

def report_from_dict(data: Any) -> Report:
    """Rebuild a Report from its ``to_dict`` form (fields added later may be missing).

    Raises:
        ReportFormatError: not a report, or a field missing or of the wrong type
            (the message names it by its JSON path).
    """
    _validate(data)
    return Report.from_dict(data)


def load_report(path: str) -> Report:
    """Read a JSON report written by ``--json``.

    Raises:
        OSError: the file cannot be read.
        ReportFormatError: it is not UTF-8, not JSON, or not a report (the message
            says which field, by its JSON path).
    """
    with open(path, encoding="utf-8") as handle:
        try:
            data = json.load(handle, parse_constant=_Constant)
        except UnicodeDecodeError as exc:
            raise ReportFormatError(f"not UTF-8 text ({exc.reason} at byte {exc.start})") \
                from None
        except RecursionError:
            raise ReportFormatError("nested too deeply to read (deeper than Python's "
                                    "recursion limit): not a report") \
                from None
        except ValueError as exc:  # JSONDecodeError, or an integer of over 4,300 digits
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
    return build_report(target=first.target, argv=first.argv, exit_code=first.exit_code,
                        duration_s=end, patched=sorted({m for r in reports for m in r.patched}),
                        findings=combine(groups), stopped_by=first.stopped_by,
                        versions=(first.python, first.gevent), processes=processes,
                        started_at=origin)


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
            print(visible(f"{prog}: error: --render {source}: {exc}"), file=sys.stderr)
            return 2
    report = merge_reports(reports)
    if config.json_path is not None:
        from .report import write_json

        try:
            write_json(report, config.json_path)
        except OSError as exc:
            print(visible(f"{prog}: cannot write {config.json_path}: {exc}"), file=sys.stderr)
            return 1
    errors = emit_files(report, config.html_path, config.sarif_path, config.root)
    for line in errors:
        print(visible(f"{prog}: {line}"), file=sys.stderr)
    if not config.quiet:
        from .report import make_console, render_terminal

        render_terminal(report, make_console())
    return 1 if errors else 0
