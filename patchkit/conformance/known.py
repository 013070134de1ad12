"""Known divergences (``known.toml``) and the comparison of each column with unpatched.

``known.toml`` holds one ``[[divergence]]`` per explained difference: ``test`` (a test id
or fnmatch pattern), ``columns`` (which patched columns show it), ``owner`` (``gevent``,
``patchkit`` or ``environment``) and ``cause`` (one line).
"""

from __future__ import annotations

import fnmatch
import tomllib
from dataclasses import dataclass
from importlib import resources

from .model import COLUMNS, Column, Divergence, Report

__all__ = ["KnownDivergence", "load_known", "divergences", "KnownError"]

_OWNERS = ("gevent", "patchkit", "environment")


class KnownError(ValueError):
    """``known.toml`` is malformed; the message names the entry and the field."""


@dataclass(frozen=True)
class KnownDivergence:
    """An explained difference between a patched column and unpatched."""

    test: str
    columns: tuple[Column, ...]
    owner: str
    cause: str

    def matches(self, test_id: str, column: Column) -> bool:
        return column in self.columns and fnmatch.fnmatchcase(test_id, self.test)


def _entry(index: int, raw: dict[str, object]) -> KnownDivergence:
    where = f"known.toml divergence #{index + 1} ({raw.get('test', '?')})"
    for key in ("test", "owner", "cause"):
        if not isinstance(raw.get(key), str) or not raw[key]:
            raise KnownError(f"{where}: {key!r} must be a non-empty string")
    columns = raw.get("columns", ["gevent", "patchkit"])
    if not isinstance(columns, list) or not set(columns) <= set(COLUMNS[1:]) or not columns:
        raise KnownError(f"{where}: 'columns' must list 'gevent' and/or 'patchkit'")
    if raw["owner"] not in _OWNERS:
        raise KnownError(f"{where}: 'owner' must be one of {', '.join(_OWNERS)}")
    return KnownDivergence(str(raw["test"]), tuple(columns), str(raw["owner"]),
                           str(raw["cause"]))


def load_known(text: str | None = None) -> list[KnownDivergence]:
    """Parse *text* (default: the packaged ``known.toml``).

    Raises:
        KnownError: an entry lacks a field or has a wrong value.
    """
    if text is None:
        text = resources.files(__package__ or "patchkit.conformance").joinpath(
            "known.toml").read_text()
    data = tomllib.loads(text)
    return [_entry(i, raw) for i, raw in enumerate(data.get("divergence", []))]


def _cause(known: list[KnownDivergence], test_id: str, column: Column,
           detail: str) -> tuple[str, str]:
    for entry in known:
        if entry.matches(test_id, column):
            return entry.cause, entry.owner
    first = detail.splitlines()[0] if detail else ""
    return (f"observed: {first}" if first else ""), ""


def divergences(report: Report, known: list[KnownDivergence]) -> list[Divergence]:
    """Tests whose outcome in a patched column differs from unpatched.

    A test missing from unpatched (a fixture id, a hang label) is compared as ``absent``.
    Each divergence gets the known cause when the table has one, else the test's own
    last error line prefixed ``observed:``.
    """
    found: list[Divergence] = []
    for module in report.modules():
        base_run = report.run_for(module, "unpatched")
        base = base_run.by_id() if base_run else {}
        for column in COLUMNS[1:]:
            run = report.run_for(module, column)
            if run is None:
                continue
            for outcome in run.outcomes:
                before = base.get(outcome.test_id)
                was = before.outcome if before else "absent"
                if was == outcome.outcome:
                    continue
                cause, owner = _cause(known, outcome.test_id, column, outcome.detail)
                found.append(Divergence(module, outcome.test_id, column, was,
                                        outcome.outcome, cause, owner))
    return found
