"""The audit report as SARIF 2.1.0, for code scanning (GitHub, GitLab, IDE viewers).

One rule per finding kind (stable ids, so alerts match across runs), one result per
finding at its call site, the stack as a code flow. Paths under *root* (the project
root: the current directory when the auditor started) are relative with
``uriBaseId`` ``%SRCROOT%``, which is what lets code scanning put an alert on the
changed line of a pull request; paths elsewhere (site-packages) stay absolute
``file://`` URIs.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Iterator

from .._atomic import write_atomic
from ..model import Finding, Report, StackFrame

__all__ = ["RULES", "to_sarif", "write_sarif"]

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
SRCROOT = "%SRCROOT%"

# GitHub code scanning rejects a run of over 25,000 results and shows the top 1,000 steps
# of a code flow: a log keeps the first MAX_RESULTS findings by severity, then blocked
# time, and says how many it left out (a 100,000-finding report made a 476 MB log).
MAX_RESULTS = 25_000
MAX_FLOW_STEPS = 1000

# kind -> (rule name, level, short description, what it means, the usual fix)
RULES: dict[str, tuple[str, str, str, str, str]] = {
    "blocking": (
        "HubBlocked", "error", "A call held the gevent hub",
        "While this line ran, no other greenlet ran, no socket was served and no timer "
        "fired: every other request the process was handling waited.",
        "Call the patched (cooperative) version: import the module after "
        "patchkit.patch_all(), or call through the module at call time. For a C extension "
        "use its cooperative mode or gevent's threadpool "
        "(gevent.get_hub().threadpool.apply(func, args)); for CPU work, the threadpool or "
        "gevent.sleep(0) inside the loop."),
    "stale-reference": (
        "StaleOriginal", "warning", "A name still holds an unpatched original",
        "A module captured a blocking original (from time import sleep, a socket class, a "
        "default argument) before patching; every call through it blocks the hub.",
        "Import the module after patchkit.patch_all(), or look the function up through "
        "its module at call time."),
    "late-patch": (
        "LatePatch", "warning", "Modules were imported before patching",
        "An import ran before patching and brought in modules that kept blocking "
        "originals.",
        "Call patchkit.patch_all() on the program's first line, before this import, or run "
        "the auditor with --patch."),
    "misbehavior": (
        "PatchMisbehavior", "error", "Something patching made go wrong",
        "gevent raised LoopExit, BlockingSwitchOutError, ConcurrentObjectUseError or a "
        "thread-use error here, or a native thread started before patching kept running.",
        "See the result's message for the remedy of the specific error."),
    "unpatched": (
        "NeverPatched", "error", "The program never patched",
        "Nothing the program did was cooperative: every blocking call blocked the hub.",
        "Call patchkit.patch_all() on the program's first line, or run with --patch."),
    "start-up": (
        "StartUpBlocking", "note", "An import held the gevent hub once",
        "While a module was being imported (at start-up, or on the first request that "
        "reached a lazy import) no other greenlet ran; it is paid once, not by every "
        "request.",
        "Import it at module level, at start-up (before a pre-fork server forks), so no "
        "request pays for it."),
    "loop-lag": (
        "LoopLag", "warning", "The hub's loop ran late",
        "Timers, timeouts and heartbeats fired late because greenlets held the hub, "
        "possibly several one after another in the same loop turn.",
        "Fix the blocking findings: each block delays every timer by its duration."),
    "unaudited-process": (
        "UnauditedProcess", "warning", "A child process was not audited",
        "The program started Python processes that sent no report: whatever blocked "
        "their hubs is not in this log.",
        "Keep the audit's following on (no --no-follow) and start children with the same "
        "Python, without -I or -S."),
}


def _rule(kind: str, info: tuple[str, str, str, str, str]) -> dict[str, Any]:
    name, level, short, full, fix = info
    return {
        "id": kind, "name": name,
        "shortDescription": {"text": short},
        "fullDescription": {"text": full},
        "help": {"text": f"{full}\nFix: {fix}",
                 "markdown": f"{full}\n\n**Fix:** {fix}\n\nSee patchkit's docs/audit.md, "
                             f"section *Finding kinds*."},
        "defaultConfiguration": {"level": level},
        "properties": {"tags": ["gevent", "performance", "concurrency"]},
    }


def _artifact(file: str, root: Path) -> dict[str, Any]:
    path = Path(file)
    try:
        relative = path.relative_to(root)
    except ValueError:
        return {"uri": path.as_uri()}
    return {"uri": relative.as_posix(), "uriBaseId": SRCROOT}


def _physical(file: str | None, line: int | None, root: Path) -> dict[str, Any] | None:
    if not file or file.startswith("<") or not os.path.isabs(file):
        return None  # <string>, <frozen ...>: not a file a viewer could open
    location: dict[str, Any] = {"artifactLocation": _artifact(file, root)}
    if line:
        location["region"] = {"startLine": line}
    return location


def _flow(stack: list[StackFrame], root: Path) -> dict[str, Any]:
    steps = []
    skipped = max(len(stack) - MAX_FLOW_STEPS, 0)  # the outermost: the call site is inner
    for depth, frame in enumerate(stack[skipped:], skipped):
        location: dict[str, Any] = {"message": {"text": f"{frame.function} "
                                                        f"({os.path.basename(frame.file)}:"
                                                        f"{frame.line})"}}
        physical = _physical(frame.file, frame.line, root)
        if physical is not None:
            location["physicalLocation"] = physical
        steps.append({"location": location, "nestingLevel": depth})
    text = "the call stack while the hub was blocked, outermost first"
    if skipped:
        text += f" ({skipped} outer frame(s) left out)"
    return {"message": {"text": text}, "threadFlows": [{"locations": steps}]}


def _message(finding: Finding) -> str:
    callee = f"{finding.callee}: " if finding.callee else ""
    timing = ""
    if finding.total_s > 0:
        # rounded as the JSON report is, so --render of it writes the identical log
        total, longest = round(finding.total_s, 6), round(finding.max_s, 6)
        timing = (f" ({finding.count} time(s), {total * 1000:.1f} ms in total, "
                  f"longest {longest * 1000:.1f} ms)")
    fix = f" Fix: {finding.fix}" if finding.fix else ""
    return f"{callee}{finding.message}{timing}.{fix}"


def _result(finding: Finding, report: Report, root: Path, index: dict[str, int]) -> dict[str, Any]:
    result: dict[str, Any] = {
        "ruleId": finding.kind, "ruleIndex": index[finding.kind],
        "level": RULES[finding.kind][1], "message": {"text": _message(finding)},
    }
    physical = _physical(finding.file, finding.line, root)
    if physical is None and report.target.endswith(".py") and finding.file is None:
        physical = _physical(os.path.abspath(report.target), None, root)
    result["locations"] = [{"physicalLocation": physical}] if physical else []
    if finding.stack:
        result["codeFlows"] = [_flow(finding.stack, root)]
    result["properties"] = {
        "package": finding.package, "callee": finding.callee, "count": finding.count,
        "total_s": round(finding.total_s, 6), "max_s": round(finding.max_s, 6),
        "fix": finding.fix, "pids": list(finding.pids)}
    return result


def _kept(findings: list[Finding]) -> list[Finding]:
    """At most MAX_RESULTS findings, errors first, in the report's order (blocked time)."""
    if len(findings) <= MAX_RESULTS:
        return findings
    rank = {"error": 0, "warning": 1, "note": 2}
    order = sorted(range(len(findings)), key=lambda i: (rank[RULES[findings[i].kind][1]], i))
    return [findings[i] for i in sorted(order[:MAX_RESULTS])]


def _notes(report: Report, kept: int) -> dict[str, Any]:
    left = len(report.findings) - kept
    if not left:
        return {}
    text = (f"{left} more finding(s) left out: this log keeps {MAX_RESULTS} by severity, "
            "then blocked time (code scanning rejects a run of over 25,000); the JSON report "
            "has them all")
    return {"toolExecutionNotifications": [{"level": "note", "message": {"text": text}}]}


def _log(report: Report, base: Path, kept: int, results: list[dict[str, Any]]) -> dict[str, Any]:
    from patchkit import __version__

    return {
        "$schema": SARIF_SCHEMA, "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {
                "name": "patchkit.audit", "version": __version__,
                "semanticVersion": __version__,
                "rules": [_rule(kind, info) for kind, info in RULES.items()]}},
            "originalUriBaseIds": {SRCROOT: {"uri": base.as_uri() + "/"}},
            "invocations": [{
                "executionSuccessful": True, "exitCode": report.exit_code,
                "commandLine": " ".join(["python", "-m", "patchkit.audit", report.target,
                                         *report.argv[1:]]),
                "properties": {"duration_s": round(report.duration_s, 6),
                               "patched": list(report.patched), "python": report.python,
                               "gevent": report.gevent, "stopped_by": report.stopped_by,
                               "processes": [p.to_dict() for p in report.processes]},
                **_notes(report, kept)}],
            "results": results,
            "columnKind": "unicodeCodePoints",
        }],
    }


def _base(root: str | None) -> Path:
    return Path(os.path.abspath(root or os.getcwd()))


_INDEX = {kind: i for i, kind in enumerate(RULES)}


def to_sarif(report: Report, root: str | None = None) -> dict[str, Any]:
    """The SARIF 2.1.0 log for *report*; paths under *root* (default: cwd) are relative."""
    base = _base(root)
    findings = _kept(report.findings)
    return _log(report, base, len(findings),
                [_result(f, report, base, _INDEX) for f in findings])


def _text(report: Report, root: str | None) -> Iterator[str]:
    """``json.dumps(to_sarif(report, root), indent=2)``, one result at a time: a big log
    is never a dict of every result plus the encoder's millions of pieces at once."""
    base = _base(root)
    findings = _kept(report.findings)
    # The only '"results": []' in the text: a quote inside a string is written \".
    head, _, tail = json.dumps(_log(report, base, len(findings), []), indent=2).partition(
        '"results": []')
    yield head + '"results": ['
    for number, finding in enumerate(findings):
        text = json.dumps(_result(finding, report, base, _INDEX), indent=2)
        yield (",\n" if number else "\n") + _RESULT_INDENT + text.replace(
            "\n", "\n" + _RESULT_INDENT)
    yield ("\n" + _RESULT_INDENT[2:] + "]" if findings else "]") + tail + "\n"


_RESULT_INDENT = " " * 8  # {"runs": [{"results": [ ...: four levels of indent=2


def write_sarif(report: Report, path: str, root: str | None = None) -> None:
    """Write the SARIF log for *report* to *path* atomically."""
    write_atomic(path, _text(report, root))
