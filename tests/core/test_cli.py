"""Command-line conventions shared by every patchkit command, each run as a user would."""

from __future__ import annotations

import re
import shutil
import sys
from pathlib import Path

import pytest

import patchkit

MODULES = ["patchkit", "patchkit.audit", "patchkit.static", "patchkit.conformance"]
VERSION_LINE = re.compile(r"^(?P<prog>.+) (?P<version>\S+) \(gevent \S+, CPython 3\.\d+\.\d+\)$")


def _script() -> str:
    """The installed ``patchkit`` script of this interpreter's environment."""
    found = shutil.which("patchkit", path=str(Path(sys.executable).parent))
    if found is None:
        pytest.fail(f"no patchkit script next to {sys.executable}: is patchkit installed?")
    return found


@pytest.mark.parametrize("module", MODULES)
def test_every_module_answers_version(run_cmd, module: str) -> None:
    proc = run_cmd("-m", module, "--version")
    assert proc.returncode == 0, proc.stderr
    match = VERSION_LINE.match(proc.stdout.strip())
    assert match, proc.stdout
    assert match["prog"] == f"python -m {module}"
    assert match["version"] == patchkit.__version__


def test_the_script_answers_version_and_names_itself(tmp_path) -> None:
    import subprocess

    proc = subprocess.run([_script(), "--version"], capture_output=True, text=True, timeout=60,
                          cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    match = VERSION_LINE.match(proc.stdout.strip())
    assert match and match["prog"] == "patchkit", proc.stdout
    proc = subprocess.run([_script(), "--frobnicate"], capture_output=True, text=True,
                          timeout=60, cwd=tmp_path)
    assert proc.returncode == 2
    assert proc.stderr.splitlines() == [
        "usage: patchkit [options] (script.py | -m module | module) [args ...]",
        "patchkit: error: unknown option '--frobnicate' (patchkit's options go before the "
        "program)"]


@pytest.mark.parametrize("module,args,message", [
    ("patchkit", ["--list", "extra"], "--list takes no other arguments (got 'extra')"),
    ("patchkit", ["--version", "x.py"], "--version takes no other arguments"),
    ("patchkit", ["--only", "time", "--no-ssl", "x.py"],
     "--only and --no-ssl contradict each other"),
    ("patchkit", ["--only"], "--only needs a patcher name"),
    ("patchkit", ["--no-sockets", "x.py"], "unknown patcher 'sockets'"),
    ("patchkit.audit", ["--frobnicate", "x.py"], "unrecognized option '--frobnicate'"),
    ("patchkit.audit", ["--threshold", "soon", "x.py"], "'soon' is not a number of seconds"),
    ("patchkit.static", ["--frobnicate"], "unrecognized arguments: --frobnicate"),
    ("patchkit.static", ["/no/such/path"], "/no/such/path: no such file or directory"),
    ("patchkit.conformance", ["test_nosuch"], "no test module 'test_nosuch'"),
    ("patchkit.conformance", ["--jobs", "0"], "--jobs 0: needs at least 1"),
    ("patchkit.conformance", ["--timeout", "-1"], "--timeout -1: must be more than 0"),
    ("patchkit.conformance", ["--markdown", "/no/such/dir/m.md"], "--markdown /no/such/dir"),
])
def test_usage_errors_are_a_usage_line_and_one_error_exit_2(run_cmd, module: str,
                                                            args: list[str],
                                                            message: str) -> None:
    proc = run_cmd("-m", module, *args)
    assert proc.returncode == 2, (proc.stdout, proc.stderr)
    assert proc.stdout == "" and "Traceback" not in proc.stderr
    assert proc.stderr.startswith(f"usage: python -m {module} "), proc.stderr
    error = proc.stderr.rstrip("\n").splitlines()[-1]
    assert error.startswith(f"python -m {module}: error: "), proc.stderr
    assert message in error, proc.stderr


@pytest.mark.parametrize("module", MODULES)
def test_help_is_plain_text(run_cmd, module: str) -> None:
    proc = run_cmd("-m", module, "--help")
    assert proc.returncode == 0, proc.stderr
    text = proc.stdout
    assert text.startswith(f"usage: python -m {module}")
    assert "--version" in text
    for markup in ("``", "`", ":func:", ":class:", ":mod:", "**"):
        assert markup not in text, (markup, text)


def test_static_report_keeps_whole_lines_when_piped(run_cmd) -> None:
    import json

    proc = run_cmd("-m", "patchkit.static", "--json", "-", timeout=120)
    assert proc.returncode == 0, proc.stderr
    findings = json.loads(proc.stdout)["findings"]
    assert findings, "this environment has grpcio and psycopg2-binary: something to list"
    lines = proc.stderr.splitlines()
    for finding in findings:
        name = finding["distribution"] or finding["packages"][0]
        wanted = f"  {name} ({finding['verdict']}): {finding['fix'] or '-'}"
        assert wanted in lines, (wanted, proc.stderr)  # one line each, however long
