"""Every process of an audited program, one report: parts written per process, merged once.

Each audited process (the main one, each forked child, each followed Python child) writes
its own *part* -- who it is and its findings so far -- to one folder, atomically, at
start, every ``flush_interval`` seconds when something new was seen, and when it ends.
A process killed with SIGKILL loses at most its last interval. The main process merges
the parts into one report: a section per process, and findings summed per call site
across processes, each carrying the pids it was seen in. (coverage.py's parallel data
files and ``coverage combine`` are the model.)
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import replace
from typing import Any

from .._atomic import write_atomic
from ..model import EVENTS_PER_FINDING, PART_SCHEMA, Finding, Part, ProcessInfo, site_key

__all__ = ["write_part", "read_parts", "merge",
           "wait_for", "unaudited_finding", "is_python", "combine", "add_into", "with_pid"]

def write_part(folder: str, part: Part) -> None:
    """Write *part* as ``<folder>/<pid>.json``, whole or not at all."""
    write_atomic(os.path.join(folder, f"{part.info.pid}.json"),
                 json.dumps(part.to_dict()))


def read_parts(folder: str, skip: int | None = None) -> list[Part]:
    """Every readable part in *folder* except pid *skip*'s; unreadable files are skipped
    (a part is written atomically, so only a foreign file can be unreadable)."""
    parts = []
    for name in sorted(os.listdir(folder)) if os.path.isdir(folder) else []:
        if not name.endswith(".json") or name == f"{skip}.json":
            continue
        try:
            with open(os.path.join(folder, name), encoding="utf-8") as handle:
                data = json.load(handle)
            if data.get("schema") == PART_SCHEMA:
                parts.append(Part.from_dict(data))
        except (OSError, ValueError, KeyError, TypeError):
            continue
    return parts


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as handle:
            return handle.read().rpartition(")")[2].split()[0] != "Z"
    except OSError:
        try:
            os.kill(pid, 0)
        except OSError:
            return False
        return True


# multiprocessing's helpers end only once the program has: no use waiting for them.
_HELPERS = ("multiprocessing.resource_tracker", "multiprocessing.forkserver")


def _waits_for_us(argv: list[str]) -> bool:
    return any(helper in arg for arg in argv for helper in _HELPERS)


def wait_for(folder: str, own_pid: int, grace: float) -> list[Part]:
    """The other processes' parts, after waiting up to *grace* seconds for those still
    running to end (a master's workers finish their shutdown after the master returns)."""
    deadline = time.monotonic() + grace
    while True:
        parts = read_parts(folder, skip=own_pid)
        running = [p for p in parts if not p.info.ended and not _waits_for_us(p.info.argv)
                   and _alive(p.info.pid)]
        if not running or time.monotonic() >= deadline:
            return parts
        time.sleep(0.05)


def is_python(argv: list[str]) -> bool:
    """Whether a command line starts a Python interpreter (what the audit can follow)."""
    import sys

    if not argv:
        return False
    executable = str(argv[0])
    if os.path.basename(executable).startswith("python"):
        return True
    try:
        return os.path.realpath(executable) == os.path.realpath(sys.executable)
    except (OSError, ValueError):
        return False


def _same_command(spawned: list[str], argv: list[str]) -> bool:
    return [str(a) for a in spawned[1:]] == [str(a) for a in argv[1:]]


def unaudited_finding(missing: list[list[str]], following: bool) -> Finding:
    """The finding that says which Python children sent no report."""
    import shlex

    shown = "; ".join(shlex.join(str(a) for a in argv) for argv in missing[:5])
    more = f" and {len(missing) - 5} more" if len(missing) > 5 else ""
    if following:
        fix = ("run the child with this Python and patchkit installed, keep "
               "PATCHKIT_AUDIT_FOLLOW in its environment, and avoid -I/-S, which skip the "
               "start-up hook")
    else:
        fix = "drop --no-follow to audit the Python children a program starts"
    return Finding("unaudited-process", None, None, None, None, None, len(missing), 0.0, 0.0,
                   None, None, None, [],
                   f"{len(missing)} child process(es) were not audited: {shown}{more}", fix)


def with_pid(finding: Finding, pid: int) -> Finding:
    """*finding* as seen in process *pid* (its events stamped with it)."""
    events = [replace(e, pid=pid) for e in finding.events]
    return replace(finding, pids=sorted(set(finding.pids) | {pid}), events=events)


def add_into(into: Finding, other: Finding) -> None:
    """Sum *other*, a finding of the same call site (:func:`~patchkit.model.site_key`),
    into *into*: counts and times, pids, and events (at most ``EVENTS_PER_FINDING``, the
    longest kept, the rest counted in ``events_omitted``)."""
    into.count += other.count
    into.total_s += other.total_s
    into.max_s = max(into.max_s, other.max_s)
    into.pids = sorted(set(into.pids) | set(other.pids))
    events = into.events + other.events
    if len(events) > EVENTS_PER_FINDING:
        events.sort(key=lambda e: -e.duration_s)
        into.events_omitted += len(events) - EVENTS_PER_FINDING
        events = sorted(events[:EVENTS_PER_FINDING], key=lambda e: e.start_s)
    into.events = events
    into.events_omitted += other.events_omitted


def combine(groups: list[tuple[list[Finding], float]]) -> list[Finding]:
    """Findings of several processes or reports, each list shifted by its offset (seconds
    after the earliest start), summed per call site; the largest total first."""
    merged: dict[tuple[Any, ...], Finding] = {}
    for findings, offset in groups:
        for finding in findings:
            events = [replace(e, start_s=e.start_s + offset) for e in finding.events]
            finding = replace(finding, events=events, stack=list(finding.stack),
                              pids=list(finding.pids))
            key = site_key(finding)
            if key in merged:
                add_into(merged[key], finding)
            else:
                merged[key] = finding
    return sorted(merged.values(), key=lambda f: (-f.total_s, -f.count))


def merge(parts: list[Part], origin_at: float,
          following: bool = True) -> tuple[list[ProcessInfo], list[Finding]]:
    """Processes (main first, then by start) and findings summed per call site.

    "unpatched" survives only when no process patched; Python children that some process
    started and that sent no part become one "unaudited-process" finding.
    """
    markers = [p for p in parts if p.info.role == "exec"]  # exec'd, sent nothing since
    parts = sorted((p for p in parts if p.info.role != "exec"),
                   key=lambda p: (p.info.role != "main", p.info.started_at))
    any_patched = any(p.info.patched for p in parts)
    groups = []
    for part in parts:
        part.info.started_s = max(part.info.started_at - origin_at, 0.0)
        pid = part.info.pid
        own = [with_pid(f, pid) for f in part.findings
               if not (f.kind == "unpatched" and any_patched)]
        part.info.findings = len(own)
        groups.append((own, part.info.started_s))
    findings = combine(groups)
    argvs = [p.info.argv for p in parts]
    missing = [spawn for part in parts for spawn in part.spawned
               if is_python(spawn) and not any(_same_command(spawn, a) for a in argvs)]
    missing += [m.spawned[0] for m in markers
                if m.spawned and not any(_same_command(m.spawned[0], s) for s in missing)]
    if missing:
        findings.append(unaudited_finding(missing, following))
    return [p.info for p in parts], findings
