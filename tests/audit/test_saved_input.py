"""--render reads untrusted JSON: every bad field is one error line naming its JSON path.

Wrong types, missing fields, NaN, deep nesting and a non-report top level exit 2 with
``python -m patchkit.audit: error: --render FILE: <path>: <reason>``, no traceback and
no file written. A fuzz test mutates a valid report at random and checks that only
``ReportFormatError`` escapes the loader, and that whatever loads also renders.
"""

from __future__ import annotations

import copy
import io
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any, Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from patchkit.audit import html, sarif
from patchkit.audit.findings import Finding, HubBlock, StackFrame
from patchkit.audit.processes import ProcessInfo
from patchkit.audit.report import Report, make_console, render_terminal
from patchkit.audit.saved import ReportFormatError, load_report, merge_reports

ROOT = Path(__file__).resolve().parents[2]
PROG = "python -m patchkit.audit: error: --render "


def _blocking(index: int) -> Finding:
    return Finding(
        "blocking", f"/app/mod{index}.py", 10 + index, f"work{index}", None, "time.sleep",
        2, 0.25, 0.15, None, None, None,
        [StackFrame("/app/main.py", 3, "main"), StackFrame(f"/app/mod{index}.py", 10, "work")],
        "a blocking call held the hub", "use the patched version",
        [HubBlock(0.1, 0.1, 7), HubBlock(0.5, 0.15, 7)], 0, [7])


def valid_report() -> dict[str, Any]:
    """A small valid ``patchkit.audit/2`` report, every optional part present."""
    findings = [_blocking(0), _blocking(1), Finding(
        "stale-reference", "/app/util.py", 3, "<module>", None, None, 1, 0.0, 0.0,
        "app.util", "sleep", "time.sleep", [], "app.util.sleep holds time.sleep", None)]
    processes = [ProcessInfo(7, 1, "main", ["app.py"], 0.0, 1.5, 0, True, ["socket"], 3),
                 ProcessInfo(8, 7, "fork", ["app.py"], 0.0, 1.0, None, False, [], 0, 0.2)]
    return Report("app.py", ["app.py"], 0, 1.5, ["socket", "time"], findings,
                  python="3.11.7", gevent="24.2.1", processes=processes,
                  started_at=1700000000.0).to_dict()


def _set(data: dict[str, Any], path: tuple[Any, ...], value: Any) -> dict[str, Any]:
    data = copy.deepcopy(data)
    target = data
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return data


def _without(data: dict[str, Any], path: tuple[Any, ...]) -> dict[str, Any]:
    data = copy.deepcopy(data)
    target = data
    for key in path[:-1]:
        target = target[key]
    del target[path[-1]]
    return data


# (name, the file's text, what the one error line says after "--render FILE: ")
BAD = [
    ("count", json.dumps(_set(valid_report(), ("findings", 1, "count"), "many")),
     'findings[1].count: expected an integer, got "many"'),
    ("total_s", json.dumps(_set(valid_report(), ("findings", 0, "total_s"), None)),
     "findings[0].total_s: expected a number, got null"),
    ("kind", json.dumps(_set(valid_report(), ("findings", 2, "kind"), 1)),
     "findings[2].kind: expected one of "),
    ("message", json.dumps(_set(valid_report(), ("findings", 0, "message"), None)),
     "findings[0].message: expected a string, got null"),
    ("nan", json.dumps(_set(valid_report(), ("findings", 1, "max_s"), float("nan"))),
     "findings[1].max_s: expected a finite number, got NaN"),
    ("infinity", json.dumps(_set(valid_report(), ("processes", 1, "duration_s"),
                                 float("inf"))),
     "processes[1].duration_s: expected a finite number, got Infinity"),
    ("deep", "[" * 100_000 + "]" * 100_000, "nested too deeply"),
    ("top-level", json.dumps([valid_report()]), "not a patchkit.audit/2 report"),
    ("findings", json.dumps(_set(valid_report(), ("findings",), {"0": {}})),
     "findings: expected a list, got an object"),
    ("frame-line", json.dumps(_without(valid_report(), ("findings", 0, "stack", 1, "line"))),
     "findings[0].stack[1].line: missing"),
    ("event-pid", json.dumps(_set(valid_report(), ("findings", 0, "events", 1, "pid"), True)),
     "findings[0].events[1].pid: expected an integer or null, got true"),
    ("not-utf8", b'{"schema": "patchkit.audit/2", "target": "\xff"}', "not UTF-8"),
]


def _render(tmp_path: Path, *sources: Path) -> subprocess.CompletedProcess[str]:
    outputs = [("--html", "out.html"), ("--sarif", "out.sarif"), ("--json", "out.json")]
    argv = [sys.executable, "-m", "patchkit.audit", "--render", *map(str, sources)]
    for option, name in outputs:
        argv += [option, str(tmp_path / name)]
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.run(argv, cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=120)


@pytest.mark.parametrize(("name", "text", "reason"), BAD, ids=[case[0] for case in BAD])
def test_a_bad_report_is_one_line_naming_the_field(tmp_path: Path, name: str,
                                                   text: str | bytes, reason: str) -> None:
    bad = tmp_path / "bad.json"
    if isinstance(text, bytes):
        bad.write_bytes(text)
    else:
        bad.write_text(text)
    proc = _render(tmp_path, bad)
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert "Traceback" not in proc.stderr
    assert proc.stderr.startswith(f"{PROG}{bad}: {reason}"), proc.stderr[-2000:]
    assert proc.stderr.count("\n") == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.json"]


def test_nothing_is_written_when_a_later_report_is_bad(tmp_path: Path) -> None:
    good, bad = tmp_path / "good.json", tmp_path / "bad.json"
    good.write_text(json.dumps(valid_report()))
    bad.write_text(json.dumps(_set(valid_report(), ("findings", 0, "line"), "12")))
    proc = _render(tmp_path, good, bad)
    assert proc.returncode == 2
    assert proc.stderr == f'{PROG}{bad}: findings[0].line: expected an integer or null, ' \
                          'got "12"\n'
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.json", "good.json"]


def test_a_valid_report_still_renders_both_schemas(tmp_path: Path) -> None:
    data = valid_report()
    old = {key: value for key, value in copy.deepcopy(data).items()
           if key not in ("processes", "started_at")}
    old["schema"] = "patchkit.audit/1"
    for finding in old["findings"]:
        del finding["pids"]
        for event in finding["events"]:
            del event["pid"]
    (tmp_path / "new.json").write_text(json.dumps(data))
    (tmp_path / "old.json").write_text(json.dumps(old))
    proc = _render(tmp_path, tmp_path / "new.json", tmp_path / "old.json")
    assert proc.returncode == 0, proc.stderr
    assert load_report(str(tmp_path / "new.json")).to_dict() == data


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    yield prefix
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _paths(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _paths(item, (*prefix, index))


VALID = valid_report()
PATHS = list(_paths(VALID))
SCALARS = (st.none() | st.booleans() | st.integers() | st.floats()
           | st.text(max_size=8) | st.sampled_from(["\ud800", "blocking", "", "x" * 200])
           | st.integers(min_value=10 ** 300, max_value=10 ** 320))
JSON = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=3)
                    | st.dictionaries(st.text(max_size=6), inner, max_size=3), max_leaves=6)
SECONDS = st.floats(min_value=-1e12 + 1, max_value=1e12 - 1) | st.integers(-10**12 + 1, 10**12 - 1)


def _like(path: tuple[Any, ...]) -> st.SearchStrategy[Any]:
    """Any JSON value, or often one of the type the valid report has at *path*: the
    renderers then get values that pass the checks, at their extremes."""
    value: Any = VALID
    for key in path:
        value = value[key]
    same = {int: st.integers(-2 ** 63 + 1, 2 ** 63 - 1), float: SECONDS,
            str: st.text(), bool: st.booleans()}.get(type(value))
    return JSON if same is None else st.one_of(same, JSON)


# A mutation: at a path of the valid report, a new value (None: the key removed).
MUTATION = st.sampled_from(PATHS).flatmap(
    lambda path: st.tuples(st.just(path), st.none() | st.tuples(_like(path))))


def _mutated(mutations: list[tuple[tuple[Any, ...], tuple[Any] | None]]) -> Any:
    data: Any = copy.deepcopy(VALID)
    for path, new in mutations:
        if not path:
            data = new[0] if new is not None else {}
            continue
        target = data
        try:
            for key in path[:-1]:
                target = target[key]
            if new is None:
                del target[path[-1]]
            else:
                target[path[-1]] = new[0]
        except (KeyError, IndexError, TypeError):
            continue  # an earlier mutation replaced what this path went through
    return data


def _render_all(report: Report) -> None:
    html.render_html(report)
    json.dumps(sarif.to_sarif(report, "/app"), allow_nan=False)
    json.dumps(report.to_dict(), allow_nan=False)
    render_terminal(report, make_console(io.StringIO(), width=80))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(MUTATION, min_size=1, max_size=3))
def test_fuzz_only_the_documented_error_escapes(mutations: list[Any]) -> None:
    text = json.dumps(_mutated(mutations))  # NaN and Infinity written as JSON extensions
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as handle:
        handle.write(text)
    try:
        report = load_report(handle.name)
    except ReportFormatError as exc:
        assert "\n" not in str(exc) and str(exc)
        return
    finally:
        os.unlink(handle.name)
    _render_all(report)
    _render_all(merge_reports([report, report]))


def load_report_from(data: dict[str, Any]) -> Report:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "r.json"
        path.write_text(json.dumps(data))
        return load_report(str(path))


def test_a_capped_sarif_log_says_what_it_left_out(monkeypatch: pytest.MonkeyPatch) -> None:
    import jsonschema

    monkeypatch.setattr(sarif, "MAX_RESULTS", 1)
    monkeypatch.setattr(sarif, "MAX_FLOW_STEPS", 1)
    data = _set(valid_report(), ("findings", 2, "kind"), "unpatched")  # an error, at the end
    log = sarif.to_sarif(load_report_from(data), "/app")
    schema = json.loads((ROOT / "tests" / "report_html" / "sarif-schema-2.1.0.json").read_text())
    jsonschema.Draft4Validator(schema).validate(log)
    run = log["runs"][0]
    assert [r["ruleId"] for r in run["results"]] == ["blocking"]  # errors first, then time
    flow = run["results"][0]["codeFlows"][0]
    assert flow["message"]["text"].endswith("(1 outer frame(s) left out)")
    assert [s["nestingLevel"] for s in flow["threadFlows"][0]["locations"]] == [1]
    notes = run["invocations"][0]["toolExecutionNotifications"]
    assert [n["message"]["text"] for n in notes] == [
        "2 more finding(s) left out: this log keeps 1 by severity, then blocked time "
        "(code scanning rejects a run of over 25,000); the JSON report has them all"]


def test_an_uncapped_sarif_log_has_no_note() -> None:
    log = sarif.to_sarif(load_report_from(valid_report()), "/app")
    assert len(log["runs"][0]["results"]) == 3
    assert "toolExecutionNotifications" not in log["runs"][0]["invocations"][0]


@pytest.mark.parametrize("cap", [1, 3])
def test_the_sarif_file_is_its_log_written_result_by_result(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cap: int) -> None:
    monkeypatch.setattr(sarif, "MAX_RESULTS", cap)
    report = load_report_from(_set(valid_report(), ("target", ), 'a"results": []'))
    sarif.write_sarif(report, str(tmp_path / "r.sarif"), "/app")
    expected = json.dumps(sarif.to_sarif(report, "/app"), indent=2) + "\n"
    assert (tmp_path / "r.sarif").read_text() == expected


def test_a_capped_html_page_says_what_it_left_out(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(html, "MAX_FINDINGS", 2)
    monkeypatch.setattr(html, "MAX_BARS", 3)
    page = html.render_html(load_report_from(valid_report()))
    assert "3 finding(s); the hub was blocked 4 time(s)" in page  # the summary counts all
    assert "1 more finding(s) not shown" in page
    assert "1 shorter block(s) not drawn" in page
    assert page.count('class="bar ') == 3
    data = page.split("id=report-data>", 1)[1].split("</script>", 1)[0]
    assert len(json.loads(data)["findings"]) == 2


def test_an_uncapped_html_page_has_no_note() -> None:
    page = html.render_html(load_report_from(valid_report()))
    assert "not shown" not in page and "not drawn" not in page
    assert page.count('class="bar ') == 4


def test_an_error_line_shows_control_characters_escaped(run_cmd, tmp_path: Path) -> None:
    name = "b\x1b[31m\n.json"  # a file name can carry them too
    (tmp_path / name).write_text('{"schema": "patchkit.audit/2", "target": 5}')
    proc = run_cmd("-m", "patchkit.audit", "--render", name)
    assert proc.returncode == 2
    assert "\x1b" not in proc.stderr and proc.stderr.count("\n") == 1, proc.stderr
    assert "b\\x1b[31m\\x0a.json" in proc.stderr


@pytest.mark.parametrize("field, value", [("count", -1), ("total_s", -5.0), ("max_s", -0.1)])
def test_a_negative_count_or_duration_is_refused(run_cmd, tmp_path: Path, field: str,
                                                  value: float) -> None:
    report = {"schema": "patchkit.audit/2", "target": "t.py", "argv": ["t.py"],
              "exit_code": 0, "duration_s": 1.0, "patched": [], "findings": [{
                  "kind": "blocking", "file": "t.py", "line": 1, "function": "f",
                  "package": None, "callee": None, "count": 1, "total_s": 0.1, "max_s": 0.1,
                  "module": None, "name": None, "original": None, "stack": [],
                  "message": "m", "fix": None, field: value}]}
    (tmp_path / "r.json").write_text(json.dumps(report))
    proc = run_cmd("-m", "patchkit.audit", "--render", "r.json", "--html", "r.html")
    assert proc.returncode == 2 and f"findings[0].{field}" in proc.stderr, proc.stderr
    assert "of 0 or more" in proc.stderr and not (tmp_path / "r.html").exists()
