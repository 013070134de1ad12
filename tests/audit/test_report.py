"""The report model rendered: JSON contract, atomic writes, the terminal view at 80 columns."""

from __future__ import annotations

import io
import json
import os
import textwrap

import pytest

from patchkit.audit.__main__ import split_argv
from patchkit.audit.config import ConfigError
from patchkit.audit.findings import Finding, StackFrame
from patchkit.audit.report import Report, make_console, render_terminal, write_json

KEYS = ["kind", "file", "line", "function", "package", "callee", "count", "total_s", "max_s",
        "module", "name", "original", "stack", "message", "fix"]


def _finding(**fields: object) -> Finding:
    base: dict[str, object] = dict(
        kind="blocking", file="/app/svc/jobs.py", line=12, function="retry", package=None,
        callee="time.sleep", count=3, total_s=0.1506, max_s=0.0502, module=None, name=None,
        original=None, stack=[StackFrame("/app/svc/jobs.py", 12, "retry")],
        message="sleep is the original time.sleep, bound before patching; each call blocks "
                "the hub", fix="import svc.jobs after patch_all()")
    base.update(fields)
    return Finding(**base)  # type: ignore[arg-type]


def _report() -> Report:
    return Report("svc.py", ["svc.py", "--port", "0"], 0, 1.5, ["socket", "time"], [
        _finding(),
        _finding(kind="stale-reference", file="/venv/lib/python3.11/site-packages/urllib3/util/"
                 "ssl_.py", line=16, function="<module>", package="urllib3", callee=None,
                 count=1, total_s=0.0, max_s=0.0, module="urllib3.util.ssl_",
                 name="SSLContext", original="ssl.SSLContext", stack=[],
                 message="urllib3.util.ssl_.SSLContext holds the original ssl.SSLContext",
                 fix=None),
    ])


def test_json_contract_keys_and_order():
    data = _report().to_dict()
    assert list(data) == ["schema", "target", "argv", "exit_code", "duration_s", "patched",
                          "findings", "stopped_by", "python", "gevent", "started_at",
                          "processes"]  # later fields: added
    assert data["schema"] == "patchkit.audit/2"
    assert [list(f) for f in data["findings"]] == [KEYS + ["events", "events_omitted", "pids"]] * 2
    assert data["findings"][0]["stack"] == [{"file": "/app/svc/jobs.py", "line": 12,
                                             "function": "retry"}]
    json.dumps(data)


def test_json_is_written_atomically(tmp_path):
    path = tmp_path / "report.json"
    path.write_text("old")
    write_json(_report(), str(path))
    assert json.loads(path.read_text())["target"] == "svc.py"
    assert sorted(os.listdir(tmp_path)) == ["report.json"]
    umask = os.umask(0)
    os.umask(umask)
    assert path.stat().st_mode & 0o777 == 0o666 & ~umask


def test_terminal_view_groups_by_package_sorted_by_total_time():
    out = io.StringIO()
    render_terminal(_report(), make_console(out, width=80))
    expected = textwrap.dedent("""\
        patchkit audit: svc.py exited 0 after 1.50 s
        2 finding(s), 150.6 ms of hub blocking above the threshold
        your code - 150.6 ms -----------------------------------------------------------
          blocking        /app/svc/jobs.py:12 in retry  x3, 150.6 ms total, max 50.2 ms
            time.sleep: sleep is the original time.sleep, bound before patching; each
            call blocks the hub
            fix: import svc.jobs after patch_all()
        urllib3 ------------------------------------------------------------------------
          stale-reference urllib3/util/ssl_.py:16  x1
            urllib3.util.ssl_.SSLContext holds the original ssl.SSLContext
        """)
    assert out.getvalue() == expected
    assert all(len(line) <= 80 for line in out.getvalue().splitlines())


def test_headings_keep_80_columns_when_lines_are_not_wrapped():
    from patchkit.audit.processes import ProcessInfo

    out = io.StringIO()  # no terminal: lines are laid out unwrapped
    report = _report()
    report.processes = [ProcessInfo(pid, 1, role, ["python", "svc.py"], 0.0, 1.0, 0, True)
                        for pid, role in [(10, "main"), (11, "fork")]]
    render_terminal(report, make_console(out))
    headings = [line for line in out.getvalue().splitlines() if line.endswith("---")]
    assert any(line.startswith("2 processes ") for line in headings), out.getvalue()
    assert len(headings) == 3 and all(len(line) == 80 for line in headings), headings


def test_terminal_view_escapes_markup_in_user_text():
    out = io.StringIO()
    report = _report()
    report.findings = [_finding(function="[bold]f[/bold]", message="a [red]message[/red]")]
    render_terminal(report, make_console(out, width=80))
    assert "in [bold]f[/bold]" in out.getvalue() and "[red]message[/red]" in out.getvalue()


@pytest.mark.parametrize("argv,options,target", [
    (["app.py", "--json", "x"], [], ["app.py", "--json", "x"]),
    (["--json", "r.json", "--strict", "-m", "mod", "-v"], ["--json", "r.json", "--strict"],
     ["-m", "mod", "-v"]),
    (["--threshold=0.05", "mod"], ["--threshold=0.05"], ["mod"]),
    (["--patch", "--", "-weird.py"], ["--patch"], ["-weird.py"]),
])
def test_options_end_where_the_target_starts(argv, options, target):
    assert split_argv(argv) == (options, target)


def test_unknown_option_before_the_target():
    with pytest.raises(ConfigError, match="--nope"):
        split_argv(["--nope", "app.py"])
