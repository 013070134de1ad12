"""The whole session's findings, for the pytest plugin: a summary per call site and the
audit's JSON, HTML and SARIF reports.

Each test report carries its findings as plain data (``report.patchkit``: a list of
``{"outcome": "failed" | "allowed" | "cpu" | "unknown", "finding": Finding.to_dict()}``), so they
reach the xdist controller with the report. :class:`SessionFindings` merges them per
call site: one cause behind many failing tests shows once, with the tests it affected.
"""

from __future__ import annotations

import os
import sys
import time
from dataclasses import dataclass, field
from typing import Any

from ..audit.processes import add_into
from ..model import Finding, site_key

__all__ = ["SessionFindings"]

_SHOWN_TESTS = 3
# Failed and allowed findings of one call site merge (one allowed in a test, failed in
# another); computation and unknown blocks at that site stay entries of their own.
_GROUP = {"cpu": 1, "unknown": 2}
_LABEL = {"failed": "FAILED", "allowed": "allowed", "cpu": "CPU", "unknown": "UNKNOWN"}
_NOT_FAILED = {"CPU": " (computation: reported, not failed)",
               "UNKNOWN": " (cause unknown: reported, not failed)"}


@dataclass
class _Site:
    outcome: str
    finding: Finding
    tests: list[str] = field(default_factory=list)


class SessionFindings:
    """Findings of every test of the session, merged per call site."""

    def __init__(self) -> None:
        self.sites: dict[tuple[Any, ...], _Site] = {}
        self.started = time.perf_counter()

    def add(self, nodeid: str, entries: list[dict[str, Any]]) -> None:
        """Add one test report's entries (its ``patchkit`` attribute: plain data, as an
        xdist worker sends it), summed per call site by the audit's one merge."""
        for entry in entries:
            outcome, finding = entry["outcome"], Finding.from_dict(entry["finding"])
            key = (_GROUP.get(outcome, 0), *site_key(finding))
            site = self.sites.get(key)
            if site is None:
                self.sites[key] = _Site(outcome, finding, [nodeid])
                continue
            worst = finding.stack if finding.max_s > site.finding.max_s else None
            add_into(site.finding, finding)
            if worst is not None:  # the summary shows the stack of the longest block
                site.finding.stack = worst
            if outcome == "failed":
                site.outcome = "failed"
            if nodeid not in site.tests:
                site.tests.append(nodeid)

    def _ordered(self) -> list[_Site]:
        rank = {"failed": 0, "allowed": 1, "unknown": 2, "cpu": 3}
        return sorted(self.sites.values(), key=lambda s: (rank.get(s.outcome, 4),
                                                          -len(s.tests), -s.finding.max_s))

    def summary(self) -> list[str]:
        """The terminal summary: one entry per call site, failing ones first."""
        from .failures import package_label

        lines = []
        for site in self._ordered():
            f = site.finding
            where = f"{f.file}:{f.line} in {f.function or '?'}" if f.file else "<unknown>"
            label = _LABEL[site.outcome]
            callee = f", callee: {f.callee}" if f.callee else ""
            tests = len(site.tests)
            shown = ", ".join(site.tests[:_SHOWN_TESTS])
            more = f" (+{tests - _SHOWN_TESTS} more)" if tests > _SHOWN_TESTS else ""
            package = package_label(f.package, f.file)
            lines += [f"{label} {where}  [{f.kind}, package: {package}{callee}]",
                      f"    {tests} test{'s' * (tests != 1)}, {f.count}x, worst "
                      f"{f.max_s * 1000:.1f} ms, total {f.total_s * 1000:.1f} ms"
                      + _NOT_FAILED.get(label, ""),
                      f"    {f.message}"]
            if f.fix:
                lines.append(f"    fix: {f.fix}")
            lines.append(f"    tests: {shown}{more}")
        return lines

    def counts(self) -> dict[str, int]:
        """Call sites per outcome."""
        out: dict[str, int] = {}
        for site in self.sites.values():
            out[site.outcome] = out.get(site.outcome, 0) + 1
        return out

    def write(self, paths: tuple[str, ...], exit_code: int, patched: list[str],
              root: str) -> list[str]:
        """Write the session's findings to each of *paths* (by suffix) as the audit's
        report; returns one line per file written or failed."""
        from ..audit.report import write_json
        from ..audit.saved import emit_files
        from ..model import Report, build_report
        from .options import report_kind

        def report(outcomes: tuple[str, ...]) -> Report:
            # No python/gevent versions: the report of a session never carried them.
            return build_report(
                target="pytest", argv=sys.argv[1:], exit_code=exit_code,
                duration_s=time.perf_counter() - self.started, patched=patched,
                findings=[s.finding for s in self._ordered() if s.outcome in outcomes],
                versions=(None, None))

        everything = report(("failed", "allowed", "cpu", "unknown"))
        # Code scanning shows what failed or was allowed; computation is no alert.
        alerts = report(("failed", "allowed"))
        lines = []
        for path in paths:
            kind = report_kind(path)
            try:
                os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
                if kind == "json":
                    write_json(everything, path)
                    errors = []
                else:
                    errors = emit_files(everything if kind == "html" else alerts,
                                        path if kind == "html" else None,
                                        path if kind == "sarif" else None, root)
            except OSError as exc:
                errors = [f"cannot write {path}: {exc}"]
            lines += errors or [f"wrote {path}"]
        return lines
