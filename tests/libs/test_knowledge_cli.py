"""``python -m patchkit.knowledge``: entries by name, what is installed, JSON, usage errors."""

from __future__ import annotations

import json

from patchkit import __version__, knowledge


def test_one_entry_by_distribution_name(run_cmd) -> None:
    proc = run_cmd("-m", "patchkit.knowledge", "psycopg2-binary")
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert out.startswith("psycopg2 (psycopg2) - PostgreSQL")
    assert "needs-patcher" in out and "patcher:   psycopg2" in out
    assert "audits/psycopg2_patched" in out and "installed: 2." in out


def test_several_names_and_a_standard_library_call(run_cmd) -> None:
    proc = run_cmd("-m", "patchkit.knowledge", "MySQLdb", "os.system")
    assert proc.returncode == 0, proc.stderr
    assert "mysqlclient (MySQLdb) - MySQL" in proc.stdout
    assert "os-system (os.system" in proc.stdout and "subprocess.run()" in proc.stdout


def test_unknown_name_exits_1_and_still_prints_the_others(run_cmd) -> None:
    proc = run_cmd("-m", "patchkit.knowledge", "no-such-lib", "redis")
    assert proc.returncode == 1
    assert "redis (redis) - Redis" in proc.stdout
    assert "'no-such-lib' is not in the knowledge base" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_installed_lists_this_environment(run_cmd) -> None:
    proc = run_cmd("-m", "patchkit.knowledge", "--installed")
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0].split() == ["library", "version", "behaviour", "patcher"]
    rows = {line.split()[0]: line.split() for line in lines[1:] if line and line[0] != " "}
    assert rows["gevent"][2] == "cooperative"
    assert rows["psycopg2"][2:] == ["needs-patcher", "psycopg2"]
    assert "What to do:" in proc.stdout


def test_installed_json(run_cmd) -> None:
    proc = run_cmd("-m", "patchkit.knowledge", "--installed", "--json")
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert data["schema"] == "patchkit.knowledge/1" and data["unknown"] == []
    by_key = {entry["key"]: entry for entry in data["libraries"]}
    gevent = by_key["gevent"]
    assert gevent["installed"] and gevent["behaviour_installed"] == "cooperative"
    assert by_key["psycopg"]["behaviour_installed"] == "cooperative"  # 3.1.14 or later here
    assert by_key["psycopg"]["fix_installed"].startswith("import psycopg after patch_all()")
    assert all(entry["installed"] for entry in data["libraries"])


def test_all_json_has_every_entry(run_cmd) -> None:
    data = json.loads(run_cmd("-m", "patchkit.knowledge", "--all", "--json").stdout)
    assert len(data["libraries"]) == len(knowledge.knowledge_base().libraries)
    entry = next(e for e in data["libraries"] if e["key"] == "orjson")
    assert entry["gil"] == "held" and entry["evidence"] == ["orjson_blocks", "orjson_threadpool"]


def test_usage_errors_exit_2_without_a_traceback(run_cmd) -> None:
    for args in ([], ["--installed", "redis"], ["--installed", "--all"], ["--bogus"]):
        proc = run_cmd("-m", "patchkit.knowledge", *args)
        assert proc.returncode == 2, (args, proc.stderr)
        assert proc.stderr.startswith("usage:") and "Traceback" not in proc.stderr


def test_version_has_the_details_every_command_prints(run_cmd) -> None:
    from patchkit._cli import version_text

    proc = run_cmd("-m", "patchkit.knowledge", "--version")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == version_text("python -m patchkit.knowledge") + "\n"
    assert proc.stdout.startswith(f"python -m patchkit.knowledge {__version__} (gevent ")
    assert ", CPython 3." in proc.stdout


def test_all_into_head_ends_quietly(tmp_path) -> None:
    """``python -m patchkit.knowledge --all | head -1``: no traceback, 0 or 141 (racy)."""
    import subprocess
    import sys

    from conftest import _env

    env = _env()
    env.pop("PYTHONUNBUFFERED", None)  # a pipe's stdout is block-buffered, as in a shell
    for _ in range(5):
        proc = subprocess.Popen([sys.executable, "-m", "patchkit.knowledge", "--all"],
                                cwd=tmp_path, env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE)
        assert proc.stdout is not None and proc.stderr is not None
        assert proc.stdout.readline().split() == [b"library", b"version", b"behaviour",
                                                  b"patcher"]
        proc.stdout.close()
        err = proc.stderr.read().decode()
        proc.stderr.close()
        assert proc.wait(timeout=60) in (0, 141), err
        assert "Traceback" not in err and "BrokenPipeError" not in err, err
