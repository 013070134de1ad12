"""The conformance report as plain dataclasses, and its JSON form (schema ``patchkit.conformance/1``).

The terminal view and the JSON file are both rendered from these objects;
:func:`from_json` reads a file written by :func:`to_json` back into equal objects.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

__all__ = ["SCHEMA", "COLUMNS", "OUTCOMES", "Column", "Outcome", "TestOutcome", "ColumnRun",
           "Divergence", "Report", "counts", "to_json", "from_json"]

SCHEMA = "patchkit.conformance/1"

Column = Literal["unpatched", "gevent", "patchkit"]
COLUMNS: tuple[Column, ...] = ("unpatched", "gevent", "patchkit")

# "crashed": the interpreter died inside this test (a signal, os._exit, a fatal error).
Outcome = Literal["passed", "failed", "errored", "skipped", "hung", "crashed"]
OUTCOMES: tuple[Outcome, ...] = ("passed", "failed", "errored", "skipped", "hung", "crashed")


@dataclass(frozen=True)
class TestOutcome:
    """One test's result in one column.

    ``detail`` is the last line of the failure or the skip reason; ``stacks`` holds the
    greenlet and thread stacks taken when a test hung (or the crash output).
    """

    __test__ = False  # not a pytest test class, despite the name

    test_id: str
    outcome: Outcome
    duration: float = 0.0
    detail: str = ""
    stacks: str = ""


@dataclass
class ColumnRun:
    """A module's tests run in one column, possibly over several subprocesses.

    ``restarts`` counts the subprocesses started after a hang or crash; ``problems``
    records every subprocess that ended abnormally (exit status and output tail), so a
    crash is reported even when no test can be blamed.
    """

    module: str
    column: Column
    outcomes: list[TestOutcome] = field(default_factory=list)
    wall_time: float = 0.0
    restarts: int = 0
    problems: list[str] = field(default_factory=list)

    def by_id(self) -> dict[str, TestOutcome]:
        return {o.test_id: o for o in self.outcomes}


@dataclass(frozen=True)
class Divergence:
    """A test whose outcome in ``column`` differs from its unpatched outcome.

    ``owner`` is who the known-divergence table blames (``gevent``, ``patchkit``,
    ``environment``) or ``""`` when the cause is only what the test reported.
    """

    module: str
    test_id: str
    column: Column
    unpatched: str
    outcome: str
    cause: str
    owner: str = ""


@dataclass
class Report:
    """A whole conformance run: the versions it ran on, every column run, and divergences."""

    python: str
    gevent: str
    patchkit: str
    started: str
    wall_time: float
    jobs: int
    timeout: float
    resources: list[str]
    quick: bool
    threadpool_idle: float | None = None
    runs: list[ColumnRun] = field(default_factory=list)
    divergences: list[Divergence] = field(default_factory=list)
    schema: str = SCHEMA

    def modules(self) -> list[str]:
        return list(dict.fromkeys(run.module for run in self.runs))

    def run_for(self, module: str, column: Column) -> ColumnRun | None:
        return next((r for r in self.runs if r.module == module and r.column == column), None)


def counts(run: ColumnRun) -> dict[str, int]:
    """The matrix cells for one run: ``run`` plus one count per outcome."""
    cells: dict[str, int] = {name: 0 for name in OUTCOMES}
    for outcome in run.outcomes:
        cells[outcome.outcome] += 1
    return {"run": len(run.outcomes), **cells}


def to_json(report: Report) -> str:
    """The report as JSON text (stable key order, indented)."""
    return json.dumps(asdict(report), indent=1)


def from_json(text: str) -> Report:
    """Read :func:`to_json` output back into a :class:`Report`.

    Raises:
        ValueError: the text is not a ``patchkit.conformance/1`` report.
    """
    data: dict[str, Any] = json.loads(text)
    if data.get("schema") != SCHEMA:
        raise ValueError(f"not a {SCHEMA} report (schema: {data.get('schema')!r})")
    runs = [ColumnRun(**{**run, "outcomes": [TestOutcome(**o) for o in run["outcomes"]]})
            for run in data.pop("runs")]
    divergences = [Divergence(**d) for d in data.pop("divergences")]
    return Report(**data, runs=runs, divergences=divergences)
