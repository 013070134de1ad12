"""A report path is written, never replaced, when it is not a regular file: a character
device (``/dev/null`` as root became a regular file), a FIFO, a symlink."""

from __future__ import annotations

import json
import os
import stat
import threading
from pathlib import Path

import pytest

from conftest import _env

OK = 'print("ran")\n'


def _chardev(path: Path) -> None:
    """A null device of our own (1, 3), so a failing test cannot replace the machine's."""
    try:
        os.mknod(path, stat.S_IFCHR | 0o666, os.makedev(1, 3))
    except PermissionError:
        pytest.skip("making a device node needs root (CAP_MKNOD)")


@pytest.mark.parametrize("option", ["--json", "--html", "--sarif"])
def test_a_character_device_is_written_not_replaced(run_cmd, tmp_path: Path,
                                                    option: str) -> None:
    (tmp_path / "ok.py").write_text(OK)
    _chardev(tmp_path / "null")
    proc = run_cmd("-m", "patchkit.audit", "-q", option, "null", "ok.py")
    assert proc.returncode == 0, proc.stderr
    assert stat.S_ISCHR((tmp_path / "null").stat().st_mode)
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".patchkit")] == []


def test_a_fifo_gets_the_report(run_cmd, tmp_path: Path) -> None:
    (tmp_path / "ok.py").write_text(OK)
    fifo = tmp_path / "report.fifo"
    os.mkfifo(fifo)
    got: list[bytes] = []

    def read() -> None:
        with open(fifo, "rb") as reader:  # waits for the writer: the audit at its end
            got.append(reader.read())

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    proc = run_cmd("-m", "patchkit.audit", "-q", "--json", str(fifo), "ok.py")
    reader.join(30)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(got[0])["schema"] == "patchkit.audit/2"
    assert stat.S_ISFIFO(fifo.stat().st_mode)


def test_a_fifo_with_no_reader_is_an_error_not_a_wait(run_cmd, tmp_path: Path) -> None:
    (tmp_path / "ok.py").write_text(OK)
    os.mkfifo(tmp_path / "report.fifo")
    proc = run_cmd("-m", "patchkit.audit", "-q", "--json", "report.fifo", "ok.py", timeout=30)
    assert "a FIFO with no reader" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert stat.S_ISFIFO((tmp_path / "report.fifo").stat().st_mode)


def test_a_symlink_keeps_pointing_where_it_did(run_cmd, tmp_path: Path) -> None:
    (tmp_path / "ok.py").write_text(OK)
    (tmp_path / "reports").mkdir()
    (tmp_path / "latest.json").symlink_to(tmp_path / "reports" / "run.json")
    proc = run_cmd("-m", "patchkit.audit", "-q", "--json", "latest.json", "ok.py")
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "latest.json").is_symlink()
    assert json.loads((tmp_path / "reports" / "run.json").read_text())["exit_code"] == 0


@pytest.mark.parametrize("args, message", [
    (["--json", "ok.py", "ok.py"], "--json ok.py: that is also the program to audit, ok.py"),
    (["--json", "a.json", "--html", "a.json", "ok.py"], "--html a.json: that is also --json"),
    (["--json", "a.json", "--json", "b.json", "ok.py"], "--json given twice"),
    (["--render", "r.json", "--html", "r.json"], "--html r.json: that is also the --render"),
    (["--render", "r.json", "--json", "link.json"], "that is also the --render input r.json"),
    (["--json", "", "ok.py"], "--json: an empty path"),
])
def test_an_output_that_is_an_input_or_another_output_is_refused(
        run_cmd, tmp_path: Path, args: list[str], message: str) -> None:
    (tmp_path / "ok.py").write_text(OK)
    (tmp_path / "r.json").write_text("{}")
    (tmp_path / "link.json").symlink_to(tmp_path / "r.json")
    proc = run_cmd("-m", "patchkit.audit", "-q", *args)
    assert proc.returncode == 2, proc.stderr
    assert message in proc.stderr
    assert (tmp_path / "ok.py").read_text() == OK and (tmp_path / "r.json").read_text() == "{}"
    assert "ran" not in proc.stdout


def test_every_format_may_go_to_one_device(run_cmd, tmp_path: Path) -> None:
    (tmp_path / "ok.py").write_text(OK)
    _chardev(tmp_path / "null")
    proc = run_cmd("-m", "patchkit.audit", "-q", "--json", "null", "--html", "null",
                   "--sarif", "null", "ok.py")
    assert proc.returncode == 0, proc.stderr


def test_a_script_name_that_is_not_utf8_keeps_every_report(run_cmd, tmp_path: Path) -> None:
    name = os.fsdecode(b"app\xff.py")  # a surrogate escape, as Linux file names allow
    (tmp_path / name).write_text(OK)
    proc = run_cmd("-m", "patchkit.audit", "-q", "--json", "r.json", "--html", "r.html",
                   "--sarif", "r.sarif", name)
    assert proc.returncode == 0, proc.stderr
    assert "internal error" not in proc.stderr
    assert "app\\udcff.py" in (tmp_path / "r.html").read_text()
    assert json.loads((tmp_path / "r.sarif").read_text())["version"] == "2.1.0"


@pytest.mark.parametrize("option", ["--json", "--html", "--sarif"])
def test_unwritable_paths_are_refused_before_the_target_runs(run_cmd, tmp_path: Path,
                                                             option: str) -> None:
    # Each passed the start-up check and lost its report at the end (the probe's bugs 2-3).
    (tmp_path / "ok.py").write_text(OK)
    os.mkfifo(tmp_path / "nobody.fifo")
    for path, message in (("nobody.fifo", "a FIFO with no reader"),
                          ("x" * 300 + ".json", "File name too long"),
                          ("ok.py/r.json", "Not a directory")):
        proc = run_cmd("-m", "patchkit.audit", "-q", option, path, "ok.py", timeout=30)
        assert proc.returncode == 2, (path, proc.stderr)
        assert message in proc.stderr and "ran" not in proc.stdout, (path, proc.stderr)


def test_json_to_a_closed_stdout_is_a_usage_error(tmp_path: Path) -> None:
    import subprocess
    import sys

    (tmp_path / "ok.py").write_text(OK)
    proc = subprocess.run([sys.executable, "-m", "patchkit.audit", "--json", "-", "ok.py"],
                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                          cwd=tmp_path, timeout=60, env=_env(),
                          preexec_fn=lambda: os.close(1))
    assert proc.returncode == 2, proc.stderr
    assert "standard output is not open" in proc.stderr and "Traceback" not in proc.stderr


def test_static_refuses_an_empty_or_readerless_json_path(run_cmd, tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "nobody.fifo")
    for args, message in ((["--json="], "an empty path"),
                          (["--json", "nobody.fifo"], "a FIFO with no reader")):
        proc = run_cmd("-m", "patchkit.static", *args, str(tmp_path), timeout=60)
        assert proc.returncode == 2 and message in proc.stderr, proc.stderr
        assert "Traceback" not in proc.stderr


def test_json_to_a_reader_that_went_away_ends_141_and_writes_the_rest(tmp_path: Path) -> None:
    import subprocess
    import sys

    (tmp_path / "ok.py").write_text(OK)
    read, write = os.pipe()
    os.close(read)
    try:
        proc = subprocess.run([sys.executable, "-m", "patchkit.audit", "-q", "--json", "-",
                               "--html", "r.html", "ok.py"], stdout=write,
                              stderr=subprocess.PIPE, text=True, cwd=tmp_path, timeout=60,
                              env=_env())
    finally:
        os.close(write)
    assert proc.returncode == 141, proc.stderr
    assert "Traceback" not in proc.stderr and "cannot write" not in proc.stderr
    assert (tmp_path / "r.html").exists()
