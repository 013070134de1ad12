"""The report model: JSON round-trips, divergences use the known table, both renderers agree."""

from __future__ import annotations

import json

import pytest
from rich.console import Console

from patchkit.conformance import (ColumnRun, Report, TestOutcome, divergences, from_json,
                                  load_known, to_json)
from patchkit.conformance.known import KnownError
from patchkit.conformance.render import render_markdown, render_rich

ID = "test.test_select.SelectTestCase.test_disallow_instantiation"


def _report() -> Report:
    def run(column: str, outcome: str, detail: str = "") -> ColumnRun:
        return ColumnRun("test_select", column, [  # type: ignore[arg-type]
            TestOutcome("test.test_select.SelectTestCase.test_errno", "passed", 0.01),
            TestOutcome(ID, outcome, 0.02, detail,  # type: ignore[arg-type]
                        "stacks [bold]x[/]" if outcome == "hung" else "")],
            wall_time=1.5, restarts=int(outcome == "hung"),
            problems=["subprocess killed by SIGKILL outside any test:\n..."]
            if column == "patchkit" else [])

    report = Report(python="3.11.7", gevent="26.9.0", patchkit="0.1.0",
                    started="2026-01-01T00:00:00+00:00", wall_time=3.0, jobs=2, timeout=30.0,
                    resources=["subprocess"], quick=False,
                    runs=[run("unpatched", "passed"),
                          run("gevent", "failed", "AssertionError: TypeError not raised by poll"),
                          run("patchkit", "hung", "no result after 30 s")])
    known = load_known("""
        [[divergence]]
        test = "*.SelectTestCase.test_disallow_*"
        columns = ["gevent"]
        owner = "gevent"
        cause = "gevent's select.poll is a Python class"
    """)
    report.divergences = divergences(report, known)
    return report


def test_json_round_trips_into_equal_dataclasses() -> None:
    report = _report()
    text = to_json(report)
    assert json.loads(text)["schema"] == "patchkit.conformance/1"
    assert from_json(text) == report
    assert to_json(from_json(text)) == text


def test_from_json_rejects_other_documents() -> None:
    with pytest.raises(ValueError, match="patchkit.conformance/1"):
        from_json('{"schema": "patchkit.audit/2"}')


def test_divergences_carry_the_known_cause_or_what_the_test_said() -> None:
    by_column = {d.column: d for d in _report().divergences}
    assert set(by_column) == {"gevent", "patchkit"}
    assert by_column["gevent"].cause == "gevent's select.poll is a Python class"
    assert by_column["gevent"].owner == "gevent"
    assert (by_column["patchkit"].unpatched, by_column["patchkit"].outcome) == ("passed", "hung")
    assert by_column["patchkit"].cause == "observed: no result after 30 s"


def test_the_packaged_known_table_loads() -> None:
    for entry in load_known():
        assert entry.cause and entry.owner in ("gevent", "patchkit", "environment")


def test_a_malformed_known_entry_is_named() -> None:
    with pytest.raises(KnownError, match=r"#1 \(x\).*owner"):
        load_known('[[divergence]]\ntest = "x"\nowner = "me"\ncause = "c"\n')


def test_rich_and_markdown_show_the_same_matrix_and_divergences() -> None:
    report = _report()
    console = Console(record=True, width=200)
    render_rich(report, console)
    text = console.export_text()
    markdown = render_markdown(report)
    for needle in ("test_select", "SelectTestCase.test_disallow_instantiation", "passed → hung",
                   "gevent's select.poll is a Python class", "26.9.0"):
        assert needle in text and needle in markdown
    assert "| test_select | patchkit | 2 | 1 | 0 | 0 | 0 | 1 | 0 | 1 | 2 s |" in markdown
    assert "killed by SIGKILL" in text


def test_a_divergence_shared_by_both_columns_is_one_row() -> None:
    report = _report()
    report.runs[2] = report.runs[1].__class__(
        "test_select", "patchkit", list(report.runs[1].outcomes))
    report.divergences = divergences(report, load_known("""
        [[divergence]]
        test = "*test_disallow_instantiation"
        owner = "gevent"
        cause = "shared"
    """))
    assert len(report.divergences) == 2
    assert "| `SelectTestCase.test_disallow_instantiation` | both | passed → failed | shared" \
        in render_markdown(report)


def test_a_report_without_newer_fields_still_loads() -> None:
    data = json.loads(to_json(_report()))
    del data["threadpool_idle"]
    assert from_json(json.dumps(data)).threadpool_idle is None
