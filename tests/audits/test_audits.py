"""Every case in audits/ runs under ``python -m patchkit.audit --json OUT`` and is checked.

A case is a folder with ``app.py`` (the target) and ``expected.toml``; audits/README.md
documents the format. The services a case names are started once per session and
passed to it in the environment.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import tomllib
from pathlib import Path
from typing import Any, Callable

import pytest
from services import unavailable

AUDITS = Path(__file__).resolve().parents[2] / "audits"
CASES = sorted(p.parent.name for p in AUDITS.glob("*/expected.toml"))
SERVICE_FIXTURES = {"postgres": "postgres", "redis": "redis_server", "grpc": "grpc_server",
                    "memcached": "memcached", "mariadb": "mariadb", "rabbitmq": "rabbitmq",
                    "slapd": "slapd", "sshd": "sshd", "moto": "moto_server"}


def _service_env(request: pytest.FixtureRequest, services: list[str]) -> dict[str, str]:
    """Start the services a case names; the environment variables that point to them."""
    from services_more import ENVIRONMENT

    env = {}
    for name in services:
        server = request.getfixturevalue(SERVICE_FIXTURES[name])
        if name == "postgres":
            env["PATCHKIT_PG_DSN"] = server.dsn
        elif name == "redis":
            env["PATCHKIT_REDIS_URL"] = server.url
        elif name == "grpc":
            env["PATCHKIT_GRPC_TARGET"] = server.target
        else:
            env.update(ENVIRONMENT[name](server))
    return env


def _require_imports(modules: list[str]) -> None:
    """Skip (fail in CI) a case whose library is not installed: the ones built from C
    (mysqlclient, pylibmc, pycurl, python-ldap) install only where Debian's headers are."""
    missing = [name for name in modules if importlib.util.find_spec(name) is None]
    if missing:
        unavailable(f"{', '.join(missing)} not installed (dev.py installs them where the "
                    "build headers are: .ci/services.sh installs those as root)")


def matches(finding: dict[str, Any], pattern: dict[str, Any]) -> bool:
    """Whether *finding* fits every key of *pattern* (see audits/README.md)."""
    for key, want in pattern.items():
        if key == "file":
            if not (finding["file"] or "").endswith(os.sep + want.replace("/", os.sep)):
                return False
        elif key.endswith("_contains"):
            if want not in (finding[key[:-len("_contains")]] or ""):
                return False
        elif key.endswith("_excludes"):
            if want in (finding[key[:-len("_excludes")]] or ""):
                return False
        elif key.startswith("min_"):
            if finding[key[len("min_"):]] < want:
                return False
        elif finding[key] != want:
            return False
    return True


def run_case(run_cmd: Callable[..., subprocess.CompletedProcess], name: str,
             out: Path) -> tuple[subprocess.CompletedProcess, dict[str, Any]]:
    """Audit ``audits/<name>/app.py`` from its folder; returns the process and its report."""
    case = AUDITS / name
    expected = tomllib.loads((case / "expected.toml").read_text())
    proc = run_cmd("-m", "patchkit.audit", *expected.get("options", []), "--json", str(out),
                   str(case / "app.py"), cwd=case, timeout=120)
    assert out.exists(), f"no report\nstdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"
    return proc, json.loads(out.read_text())


def _describe(findings: list[dict]) -> str:
    return "\n".join(f"  {f['kind']} {f['package']} {f['callee']} "
                     f"{Path(f['file'] or '?').name}:{f['line']} x{f['count']} "
                     f"{f['total_s']:.3f}s {f['module']}.{f['name']}" for f in findings) or "  none"


@pytest.mark.parametrize("name", CASES)
def test_audit_case(name: str, request: pytest.FixtureRequest, run_cmd, tmp_path: Path,
                    monkeypatch: pytest.MonkeyPatch) -> None:
    expected = tomllib.loads((AUDITS / name / "expected.toml").read_text())
    _require_imports(expected.get("imports", []))
    for variable, value in _service_env(request, expected.get("services", [])).items():
        monkeypatch.setenv(variable, value)  # run_cmd passes the environment on
    proc, report = run_case(run_cmd, name, tmp_path / "report.json")
    assert report["schema"] == "patchkit.audit/2"
    findings = report["findings"]
    seen = f"findings:\n{_describe(findings)}\nstderr:\n{proc.stderr[-3000:]}"
    assert report["exit_code"] == expected.get("exit_code", 0), seen
    for pattern in expected.get("must", []):
        assert any(matches(f, pattern) for f in findings), f"missing {pattern}\n{seen}"
    for pattern in expected.get("must_not", []):
        bad = [f for f in findings if matches(f, pattern)]
        assert not bad, f"unexpected {pattern}:\n{_describe(bad)}\n{seen}"


def test_every_case_is_complete() -> None:
    assert len(CASES) >= 8
    for name in CASES:
        expected = tomllib.loads((AUDITS / name / "expected.toml").read_text())
        assert (AUDITS / name / "app.py").is_file()
        assert expected.get("description") and (expected.get("must") or expected.get("must_not"))
        assert set(expected.get("services", [])) <= set(SERVICE_FIXTURES), name
        assert all(isinstance(module, str) for module in expected.get("imports", [])), name
