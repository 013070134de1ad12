"""`python -m patchkit.audit --static` hands over to the native-extension scan."""

from __future__ import annotations

import json
import os


def test_audit_static_scans_installed_extensions(run_cmd) -> None:
    proc = run_cmd("-m", "patchkit.audit", "--static", "--json", "-", timeout=120)
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    text = json.dumps(report)
    assert "psycopg2" in text and "grpc" in text


def test_audit_static_bad_path_is_a_clear_error(run_cmd) -> None:
    proc = run_cmd("-m", "patchkit.audit", "--static", "/no/such/place")
    assert proc.returncode == 2
    assert "--static: error: /no/such/place: no such file or directory" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_a_fifo_named_like_a_shared_object_is_not_read(run_cmd, tmp_path) -> None:
    # open() of a FIFO waits for a writer for ever: the scan skips what is not a file.
    (tmp_path / "pkg").mkdir()
    os.mkfifo(tmp_path / "pkg" / "_speedups.so")
    proc = run_cmd("-m", "patchkit.static", "--json", "-", str(tmp_path), timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert "not a regular file" in proc.stdout
    proc = run_cmd("-m", "patchkit.static", str(tmp_path / "pkg" / "_speedups.so"), timeout=60)
    assert proc.returncode == 2 and "not a file or folder" in proc.stderr
    assert "Traceback" not in proc.stderr
