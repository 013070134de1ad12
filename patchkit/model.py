"""The data every part of patchkit passes around: findings, processes, parts, reports.

Plain dataclasses with their JSON form (``to_dict``) and back (``from_dict``), at the bottom
of the package: the detectors' kinds, the findings built from their observations, the parts
each process writes, and the report every output renders all live here, so the layers above
(findings, processes, report, the front doors) import them and never each other for them.
``from_dict`` trusts its data: a saved file is checked at the edge (``audit.saved``) first.
"""

from __future__ import annotations

import platform
from dataclasses import dataclass, field
from typing import Any, Iterable, Literal

from ._redact import redact_argv, redact_command

__all__ = ["Kind", "StackFrame", "HubBlock", "EVENTS_PER_FINDING", "Finding", "ProcessInfo",
           "Part", "PART_SCHEMA", "Report", "SCHEMA", "SCHEMAS", "build_report", "site_key"]

Kind = Literal["blocking", "start-up", "stale-reference", "late-patch", "misbehavior",
               "unpatched", "unaudited-process", "loop-lag"]

SCHEMA = "patchkit.audit/2"
SCHEMAS = ("patchkit.audit/1", SCHEMA)  # what --render reads; /1 has no processes
PART_SCHEMA = "patchkit.audit-part/1"

# Enough for a timeline to show a busy site's rhythm; a site that blocked more often
# keeps its longest blocks and counts the rest, so a report stays a few MB at most.
EVENTS_PER_FINDING = 1000


@dataclass(frozen=True, slots=True)
class StackFrame:
    """A frame as reported: file, line, function."""

    file: str
    line: int
    function: str


@dataclass(frozen=True, slots=True)
class HubBlock:
    """One timed hub block: seconds from the start of the run, and how long it lasted."""

    start_s: float
    duration_s: float
    pid: int | None = None


_FINDING_FIELDS = ("kind", "file", "line", "function", "package", "callee", "count",
                   "module", "name", "original", "message", "fix")


@dataclass(slots=True)
class Finding:
    """One problem at one call site, aggregated over every time it was seen.

    The fields are the JSON contract ``patchkit.audit/2``; see ``docs/audit.md``.
    """

    kind: Kind
    file: str | None
    line: int | None
    function: str | None
    package: str | None
    callee: str | None
    count: int
    total_s: float
    max_s: float
    module: str | None
    name: str | None
    original: str | None
    stack: list[StackFrame]
    message: str
    fix: str | None
    events: list[HubBlock] = field(default_factory=list)
    events_omitted: int = 0
    pids: list[int] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """The finding as a JSON-ready dict, keys in contract order."""
        return {
            "kind": self.kind, "file": self.file, "line": self.line, "function": self.function,
            "package": self.package, "callee": self.callee, "count": self.count,
            "total_s": round(self.total_s, 6), "max_s": round(self.max_s, 6),
            "module": self.module, "name": self.name, "original": self.original,
            "stack": [{"file": f.file, "line": f.line, "function": f.function}
                      for f in self.stack],
            "message": self.message, "fix": self.fix,
            "events": [{"start_s": round(e.start_s, 6), "duration_s": round(e.duration_s, 6),
                        "pid": e.pid} for e in self.events],
            "events_omitted": self.events_omitted,
            "pids": list(self.pids),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Finding:
        """A Finding from its ``to_dict`` form (``pids`` and event pids may be missing: /1)."""
        fields = {name: data[name] for name in _FINDING_FIELDS}
        fields["total_s"], fields["max_s"] = float(data["total_s"]), float(data["max_s"])
        stack = [StackFrame(f["file"], f["line"], f["function"]) for f in data["stack"]]
        events = [HubBlock(float(e["start_s"]), float(e["duration_s"]), e.get("pid"))
                  for e in data.get("events", [])]
        return cls(**fields, stack=stack, events=events,
                   events_omitted=data.get("events_omitted", 0),
                   pids=list(data.get("pids", [])))


def site_key(finding: Finding) -> tuple[Any, ...]:
    """The one identity of a problem's call site: findings with equal keys (from several
    processes, reports or tests) are one problem, and are summed."""
    return (finding.kind, finding.file, finding.line, finding.function, finding.callee,
            finding.module, finding.name, finding.original)


@dataclass(slots=True)
class ProcessInfo:
    """One audited process, as the report's ``processes`` list shows it."""

    pid: int
    ppid: int
    role: str
    argv: list[str]
    started_at: float
    duration_s: float
    exit_code: int | None = None
    ended: bool = False
    patched: list[str] = field(default_factory=list)
    findings: int = 0
    started_s: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready, keys in contract order (``started_at`` is internal: wall time)."""
        return {"pid": self.pid, "ppid": self.ppid, "role": self.role, "argv": list(self.argv),
                "exit_code": self.exit_code, "ended": self.ended,
                "duration_s": round(self.duration_s, 6), "started_s": round(self.started_s, 6),
                "patched": list(self.patched), "findings": self.findings}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ProcessInfo:
        """A process from a report's ``processes`` list (fields added later may be missing;
        ``started_at`` is not in a report: 0)."""
        return cls(data["pid"], data["ppid"], data["role"], list(data["argv"]), 0.0,
                   float(data["duration_s"]), data.get("exit_code"),
                   data.get("ended", True), list(data.get("patched", [])),
                   data.get("findings", 0), float(data.get("started_s", 0.0)))

    def __post_init__(self) -> None:
        self.argv = redact_argv(self.argv)  # reports are shared: no secrets in them


@dataclass(slots=True)
class Part:
    """What one process saw: itself, the Python children it started, its findings."""

    info: ProcessInfo
    findings: list[Finding]
    spawned: list[list[str]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.spawned = [redact_argv(argv) for argv in self.spawned]

    def to_dict(self) -> dict[str, Any]:
        data = self.info.to_dict()
        data["started_at"] = self.info.started_at
        return {"schema": PART_SCHEMA, "process": data, "spawned": self.spawned,
                "findings": [f.to_dict() for f in self.findings]}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Part:
        """A part from its ``to_dict`` form.

        Raises:
            KeyError, TypeError, ValueError: not a whole part.
        """
        proc = data["process"]
        info = ProcessInfo(proc["pid"], proc["ppid"], proc["role"], list(proc["argv"]),
                           proc["started_at"], proc["duration_s"], proc["exit_code"],
                           proc["ended"], list(proc["patched"]), proc["findings"])
        return cls(info, [Finding.from_dict(f) for f in data["findings"]],
                   [list(a) for a in data.get("spawned", [])])


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

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Report:
        """A Report from its ``to_dict`` form (fields added later may be missing)."""
        started_at = data.get("started_at")
        return build_report(
            target=data["target"], argv=data["argv"], exit_code=data["exit_code"],
            duration_s=float(data["duration_s"]), patched=data["patched"],
            findings=[Finding.from_dict(f) for f in data["findings"]],
            stopped_by=data.get("stopped_by"), versions=(data.get("python"), data.get("gevent")),
            processes=[ProcessInfo.from_dict(p) for p in data.get("processes", [])],
            started_at=float(started_at) if started_at is not None else None)


def build_report(*, target: str, argv: Iterable[str], exit_code: int, duration_s: float,
                 findings: Iterable[Finding] = (), patched: Iterable[str] = (),
                 stopped_by: str | None = None, processes: Iterable[ProcessInfo] = (),
                 started_at: float | None = None,
                 versions: tuple[str | None, str | None] | None = None) -> Report:
    """The one place a :class:`Report` is made, for every front door and every reader.

    Args:
        target: The command as shown (redacted by the Report).
        argv: The command's arguments (redacted by the Report).
        exit_code: The program's exit code (-1 while it still runs).
        duration_s: Seconds from the audit's start to the report.
        findings: Findings, already merged (``processes.merge``/``combine``).
        patched: Modules patched, in the order the report lists them.
        stopped_by: What ended the program, when not its own exit.
        processes: Every audited process.
        started_at: Wall time of the earliest start (timelines are relative to it).
        versions: ``(python, gevent)`` as recorded elsewhere (a saved report, another
            process); None: this interpreter's.
    """
    python, gevent = versions if versions is not None else (platform.python_version(),
                                                            _gevent_version())
    return Report(target, list(argv), exit_code, duration_s, list(patched), list(findings),
                  stopped_by, python=python, gevent=gevent, processes=list(processes),
                  started_at=started_at)
