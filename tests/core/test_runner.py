"""`python -m patchkit`: runs the program exactly as `python` would, patched."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

from conftest import ROOT

# patchkit's own frames are the ones a traceback must not show. Test for its folder (the
# children import it from ROOT), not the word: a clone may live in a folder named patchkit.
PACKAGE_DIR = str(ROOT / "patchkit") + os.sep

SHOW = """\
import sys, time, socket
print(repr(sys.argv))
print(sys.path[0])
print(__name__, time.sleep.__module__, socket.socket.__module__)
if len(sys.argv) > 1 and sys.argv[1].isdigit():
    sys.exit(int(sys.argv[1]))
"""


def test_script_gets_argv_path_and_main_and_is_patched(run_cmd, tmp_path) -> None:
    folder = tmp_path / "app"
    folder.mkdir()
    (folder / "show.py").write_text(SHOW)
    proc = run_cmd("-m", "patchkit", "app/show.py", "a", "--flag")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == [
        "['app/show.py', 'a', '--flag']", str(folder), "__main__ gevent.hub gevent._socket3"]


def test_exit_code_passes_through(run_cmd, tmp_path) -> None:
    (tmp_path / "show.py").write_text(SHOW)
    assert run_cmd("-m", "patchkit", "show.py", "3").returncode == 3
    (tmp_path / "msg.py").write_text("import sys; sys.exit('bye now')\n")
    proc = run_cmd("-m", "patchkit", "msg.py")
    assert proc.returncode == 1 and proc.stderr.strip() == "bye now"


def test_no_flag_really_skips_the_patcher(run_cmd, tmp_path) -> None:
    (tmp_path / "show.py").write_text(SHOW)
    proc = run_cmd("-m", "patchkit", "--no-time", "--no-socket", "show.py")
    assert proc.stdout.splitlines()[2] == "__main__ time socket"
    proc = run_cmd("-m", "patchkit", "--only", "time", "show.py")
    assert proc.stdout.splitlines()[2] == "__main__ gevent.hub socket"


def test_dash_m_and_bare_module_names(run_cmd, tmp_path) -> None:
    pkg = tmp_path / "mypkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "__main__.py").write_text(SHOW)
    (pkg / "tool.py").write_text(SHOW)
    proc = run_cmd("-m", "patchkit", "-m", "mypkg.tool", "7")
    assert proc.returncode == 7, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0] == repr([str(pkg / "tool.py"), "7"])
    assert lines[1] == str(tmp_path)
    assert lines[2] == "__main__ gevent.hub gevent._socket3"
    # A bare name is a module when no such file exists...
    proc = run_cmd("-m", "patchkit", "mypkg.tool", "x")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines()[0] == repr([str(pkg / "tool.py"), "x"])
    # ...and a path when it does (a folder with __main__.py), as `python mypkg` would
    # (python puts the folder's absolute path first; runpy puts it as given).
    proc = run_cmd("-m", "patchkit", "mypkg", "x")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines()[:2] == ["['mypkg', 'x']", "mypkg"]


def test_target_exception_prints_its_own_traceback_only(run_cmd, tmp_path) -> None:
    (tmp_path / "boom.py").write_text("def f():\n    raise ValueError('target broke')\nf()\n")
    proc = run_cmd("-m", "patchkit", "boom.py")
    assert proc.returncode == 1
    assert "ValueError: target broke" in proc.stderr
    assert 'File "' + str(tmp_path / "boom.py") in proc.stderr or "boom.py" in proc.stderr
    assert PACKAGE_DIR not in proc.stderr and "runpy" not in proc.stderr


def test_syntax_error_in_target_is_reported_like_python(run_cmd, tmp_path) -> None:
    (tmp_path / "bad.py").write_text("def f(:\n    pass\n")
    proc = run_cmd("-m", "patchkit", "bad.py")
    plain = run_cmd("bad.py")
    assert proc.returncode == plain.returncode == 1
    assert "SyntaxError" in proc.stderr and "bad.py" in proc.stderr
    assert PACKAGE_DIR not in proc.stderr


def test_bad_input_is_a_clear_error_and_runs_nothing(run_cmd, tmp_path) -> None:
    cases = {
        ("missing.py",): "can't open file 'missing.py'",
        ("-m", "no_such_module_xyz"): "no module named 'no_such_module_xyz'",
        ("no_such_module_xyz",): "no file named 'no_such_module_xyz' and no module",
        ("--no-sockets", "x.py"): "unknown patcher 'sockets'; known patchers: os, threading",
        ("--frobnicate", "x.py"): "unknown option '--frobnicate'",
        (): "no program given",
        ("-m",): "-m needs a module name",
    }
    for args, message in cases.items():
        proc = run_cmd("-m", "patchkit", *args)
        assert proc.returncode == 2, (args, proc.stderr)
        assert message in proc.stderr, (args, proc.stderr)
        assert "Traceback" not in proc.stderr, (args, proc.stderr)


def test_help_and_list(run_cmd) -> None:
    assert "usage: python -m patchkit" in run_cmd("-m", "patchkit", "--help").stdout
    listing = run_cmd("-m", "patchkit", "--list").stdout
    assert listing.split()[0] == "os" and "threading" in listing


def test_sigint_ends_the_program_like_python(tmp_path) -> None:
    from conftest import _env
    (tmp_path / "wait.py").write_text(
        "import time\nprint('ready', flush=True)\ntime.sleep(30)\n")
    proc = subprocess.Popen([sys.executable, "-m", "patchkit", "wait.py"], cwd=tmp_path,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=_env())
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "ready"
    time.sleep(0.2)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=20)
    assert proc.returncode == -signal.SIGINT
    assert "KeyboardInterrupt" in err and "wait.py" in err
    assert PACKAGE_DIR not in err
