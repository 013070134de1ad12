"""`python -m patchkit.audit --static` hands over to the native-extension scan."""

from __future__ import annotations

import json


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
