"""--html/--sarif/--render: checked before the target runs, written atomically, every ending."""

from __future__ import annotations

import json
import os
import signal
import subprocess

import pytest

from .conftest import ROOT, audit_cmd, run_audit

BLOCKS = """\
import patchkit; patchkit.patch_all()
import ctypes, sys
open(sys.argv[1], "w").write("ran")
ctypes.CDLL(None).usleep(60000)
"""


@pytest.mark.parametrize("option", ["--html", "--sarif"])
@pytest.mark.parametrize("bad", ["missing-dir/out", "-", "."])
def test_unwritable_path_is_exit_2_before_the_target_runs(tmp_path, option, bad):
    script = tmp_path / "app.py"
    script.write_text(BLOCKS)
    marker = tmp_path / "ran"
    proc = run_audit(option, bad, str(script), str(marker), cwd=tmp_path)
    assert proc.returncode == 2, proc.stderr
    usage, error = proc.stderr.splitlines()  # as argparse: the usage line, then the error
    assert usage.startswith("usage: python -m patchkit.audit ")
    assert error.startswith("python -m patchkit.audit: error: " + option)
    assert not marker.exists()


@pytest.mark.skipif(os.geteuid() == 0, reason="root can write into a read-only folder")
def test_read_only_folder_is_exit_2(tmp_path):
    folder = tmp_path / "ro"
    folder.mkdir(mode=0o500)
    proc = run_audit("--sarif", str(folder / "x.sarif"), "-m", "json.tool", cwd=tmp_path)
    assert proc.returncode == 2
    assert "cannot write in" in proc.stderr


def test_sigterm_still_writes_every_report(tmp_path):
    script = tmp_path / "server.py"
    script.write_text("import patchkit; patchkit.patch_all()\nimport ctypes, time\n"
                      "ctypes.CDLL(None).usleep(50000)\nprint('up', flush=True)\n"
                      "time.sleep(60)\n")
    out = {ext: tmp_path / f"r.{ext}" for ext in ("json", "html", "sarif")}
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.Popen(audit_cmd("-q", "--json", str(out["json"]), "--html",
                                      str(out["html"]), "--sarif", str(out["sarif"]),
                                      str(script)), cwd=tmp_path, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None and proc.stdout.readline() == "up\n"
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == -signal.SIGTERM
    assert json.loads(out["json"].read_text())["exit_code"] == 143
    assert json.loads(out["sarif"].read_text())["runs"][0]["invocations"][0]["exitCode"] == 143
    assert out["html"].read_text().rstrip().endswith("</html>")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.html", "r.json", "r.sarif",
                                                          "server.py"]


def test_render_needs_a_report_and_no_target(tmp_path):
    proc = run_audit("--render", str(tmp_path / "none.json"), "--html", "x.html", cwd=tmp_path)
    assert proc.returncode == 2 and "no such file" in proc.stderr
    bad = tmp_path / "bad.json"
    bad.write_text('{"schema": "other"}')
    proc = run_audit("--render", str(bad), "--sarif", "x.sarif", cwd=tmp_path)
    assert proc.returncode == 2 and "not a patchkit.audit/2 report" in proc.stderr
    proc = run_audit("--render", str(bad), "--sarif", "x.sarif", "app.py", cwd=tmp_path)
    assert proc.returncode == 2 and "drop the target" in proc.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.json"]


def test_render_a_saved_report(tmp_path, example_reports):
    again = tmp_path / "again.sarif"
    proc = run_audit("--render", str(example_reports["json"]), "--sarif", str(again), cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    count = len(json.loads(example_reports["json"].read_text())["findings"])
    assert f"{count} finding(s)" in proc.stderr  # the terminal report, re-rendered
    assert json.loads(again.read_text()) == json.loads(example_reports["sarif"].read_text())


def test_main_accepts_the_options_in_process(tmp_path):
    from patchkit.audit.__main__ import parse
    from patchkit.audit.config import AuditConfig

    config = parse(["--html", str(tmp_path / "a.html"), "--sarif", "b.sarif", "-m", "json.tool"])
    assert isinstance(config, AuditConfig)
    assert config.html_path == str(tmp_path / "a.html")
    assert config.sarif_path == os.path.abspath("b.sarif") and config.root == os.getcwd()
