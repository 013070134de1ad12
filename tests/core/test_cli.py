"""Command-line conventions shared by every patchkit command, each run as a user would."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import _env

import patchkit
from patchkit._cli import BROKEN_PIPE_EXIT

MODULES = ["patchkit", "patchkit.audit", "patchkit.knowledge", "patchkit.static",
           "patchkit.conformance"]
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
    ("patchkit.audit", ["empty_folder"], "can't find '__main__' module in 'empty_folder'"),
    ("patchkit", ["empty_folder"], "can't find '__main__' module in 'empty_folder'"),
    ("patchkit.static", ["--frobnicate"], "unrecognized arguments: --frobnicate"),
    ("patchkit.static", ["/no/such/path"], "/no/such/path: no such file or directory"),
    ("patchkit.conformance", ["test_nosuch"], "no test module 'test_nosuch'"),
    ("patchkit.conformance", ["--jobs", "0"], "--jobs 0: must be from 1 to 1024"),
    ("patchkit.conformance", ["--timeout", "-1"], "'-1' must be a number from 0.001 to 86400"),
    # Non-finite and absurd numbers: each a usage error naming the range, never a helper
    # thread's OverflowError traceback or a wait for ever.
    *[("patchkit.audit", [option, value, "x.py"], f"{option}: '{value}' must be a number from")
      for option in ("--threshold", "--duration", "--grace", "--flush")
      for value in ("inf", "nan", "1e300", "0", "-1")],
    *[("patchkit.conformance", [option, value], f"{option}: '{value}' must be a number from")
      for option in ("--timeout", "--threadpool-idle") for value in ("inf", "nan", "1e300")],
    ("patchkit.conformance", ["--markdown", "/no/such/dir/m.md"], "--markdown /no/such/dir"),
])
def test_usage_errors_are_a_usage_line_and_one_error_exit_2(run_cmd, module: str,
                                                            args: list[str], message: str,
                                                            tmp_path: Path) -> None:
    (tmp_path / "empty_folder").mkdir()
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


def test_patchkit_help_is_argparse_and_names_every_patcher(run_cmd) -> None:
    from patchkit.__main__ import build_parser

    proc = run_cmd("-m", "patchkit", "--help")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == build_parser("python -m patchkit").format_help()
    assert proc.stdout.startswith(
        "usage: python -m patchkit [options] (script.py | -m module | module) [args ...]\n")
    for option in ("--only NAME", "--list", "--version", "-h, --help"):
        assert f"\n  {option}" in proc.stdout, option
    for spec in patchkit.registry().ordered():
        names = ", ".join(f"--no-{name}" for name in (spec.name, *spec.aliases))
        assert f"\n  {names}" in proc.stdout, names


@pytest.mark.parametrize("args", [["--no-thread", "--only", "time"], ["--only=time", "--no-ssl"]])
def test_patchkit_no_options_take_aliases_and_still_refuse_only(run_cmd, args) -> None:
    proc = run_cmd("-m", "patchkit", *args, "x.py")
    assert proc.returncode == 2 and "contradict each other" in proc.stderr, proc.stderr


def test_patchkit_options_are_not_abbreviated(run_cmd, tmp_path) -> None:
    (tmp_path / "show.py").write_text("print('ran')\n")
    proc = run_cmd("-m", "patchkit", "--lis")
    assert proc.returncode == 2 and "unknown option '--lis'" in proc.stderr, proc.stderr
    proc = run_cmd("-m", "patchkit", "--", "show.py", "--list")  # the program's --list
    assert (proc.returncode, proc.stdout) == (0, "ran\n"), proc.stderr


def _closed_pipe_run(args: list[str], buffered: bool) -> subprocess.CompletedProcess:
    """Run ``python ARGS`` with stdout a pipe nobody reads: its first write fails."""
    env = _env()
    if buffered:  # a real pipe's stdout is block-buffered unless PYTHONUNBUFFERED says not
        env.pop("PYTHONUNBUFFERED", None)
    else:
        env["PYTHONUNBUFFERED"] = "1"
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        return subprocess.run([sys.executable, *args], stdout=write_end, stderr=subprocess.PIPE,
                              text=True, timeout=120, env=env)
    finally:
        os.close(write_end)


BROKEN_PIPE_COMMANDS = [
    ["-m", "patchkit", "--list"], ["-m", "patchkit", "--version"], ["-m", "patchkit", "--help"],
    *[["-m", module, "--version"] for module in MODULES[1:]],
    *[["-m", module, "--help"] for module in MODULES[1:]],
    ["-m", "patchkit.knowledge", "--all"], ["-m", "patchkit.static"],
]


@pytest.mark.parametrize("buffered", [True, False], ids=["buffered", "unbuffered"])
@pytest.mark.parametrize("args", BROKEN_PIPE_COMMANDS, ids=" ".join)
def test_a_closed_pipe_ends_every_command_quietly(args: list[str], buffered: bool) -> None:
    proc = _closed_pipe_run(args, buffered)
    assert proc.stderr == "", proc.stderr  # no traceback, no "Exception ignored"
    # 141 = 128 + SIGPIPE, as a shell shows for `yes | head -1`; --help unbuffered is 0
    # because argparse itself lets its failed write go.
    assert proc.returncode in (BROKEN_PIPE_EXIT, 0)
    if buffered or "--help" not in args:
        assert proc.returncode == BROKEN_PIPE_EXIT


def test_list_into_head_never_ends_in_a_traceback(tmp_path) -> None:
    """``python -m patchkit --list | head -1``: the reader goes away after one line (racy)."""
    env = _env()
    env.pop("PYTHONUNBUFFERED", None)
    for _ in range(5):
        proc = subprocess.Popen([sys.executable, "-m", "patchkit", "--list"], cwd=tmp_path,
                                env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        assert proc.stdout is not None and proc.stderr is not None
        assert proc.stdout.readline().split()[0] == b"os"
        proc.stdout.close()
        err = proc.stderr.read().decode()
        proc.stderr.close()
        status = proc.wait(timeout=60)
        assert "Traceback" not in err and "BrokenPipeError" not in err, err
        assert status in (0, BROKEN_PIPE_EXIT), (status, err)


def test_a_program_run_by_patchkit_keeps_python_s_broken_pipe(tmp_path) -> None:
    """Only patchkit's own output is quieted; the program's is python's (its traceback, 1)."""
    (tmp_path / "hi.py").write_text("print('hi')\n")
    plain = _closed_pipe_run([str(tmp_path / "hi.py")], buffered=False)
    patched = _closed_pipe_run(["-m", "patchkit", str(tmp_path / "hi.py")], buffered=False)
    assert plain.returncode == patched.returncode == 1
    assert "BrokenPipeError" in patched.stderr and "hi.py" in patched.stderr


def test_render_refuses_json_to_stdout_saying_why(run_cmd, tmp_path) -> None:
    saved = tmp_path / "r.json"
    saved.write_text("{}")
    proc = run_cmd("-m", "patchkit.audit", "--render", str(saved), "--json", "-")
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.splitlines()[-1] == (
        "python -m patchkit.audit: error: --render writes --json to a file only: give it a "
        "path, e.g. --json all.json (--json - is for a live audit)")
