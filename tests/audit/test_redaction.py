"""Secrets a command line carries never reach a report (JSON, HTML, SARIF, terminal)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from patchkit._redact import REDACTED, looks_secret, redact_argv, redact_command


@pytest.mark.parametrize("argv, expected", [
    (["app.py", "--password=hunter2"], ["app.py", f"--password={REDACTED}"]),
    (["app.py", "--password", "hunter2", "-v"], ["app.py", "--password", REDACTED, "-v"]),
    (["app.py", "--db-pass", "x", "--verbose"], ["app.py", "--db-pass", REDACTED, "--verbose"]),
    (["app.py", "API_TOKEN=abc", "USER=bob"], ["app.py", f"API_TOKEN={REDACTED}", "USER=bob"]),
    (["app.py", "--dsn", "host=db password=s3cret dbname=main"],
     ["app.py", "--dsn", REDACTED]),
    (["app.py", "--db", "host=db password=s3cret dbname=main"],
     ["app.py", "--db", f"host=db password={REDACTED} dbname=main"]),
    (["app.py", "postgres://app:s3cret@db:5432/main"],
     ["app.py", f"postgres://app:{REDACTED}@db:5432/main"]),
    (["app.py", "--url=redis://:s3cret@cache/0"], ["app.py", f"--url=redis://:{REDACTED}@cache/0"]),
    (["app.py", "--no-auth", "input.txt"], ["app.py", "--no-auth", "input.txt"]),
    (["app.py", "--author", "Ann", "--workers=4", "--monkey=1"],
     ["app.py", "--author", "Ann", "--workers=4", "--monkey=1"]),
    (["app.py", "https://example.org/a?b=c"], ["app.py", "https://example.org/a?b=c"]),
])
def test_secret_values_are_redacted_and_names_kept(argv: list[str],
                                                   expected: list[str]) -> None:
    assert redact_argv(argv) == expected
    assert redact_argv(redact_argv(argv)) == expected  # idempotent


def test_names_that_look_secret() -> None:
    for name in ("--password", "PGPASSWORD", "--api-key", "AWS_SECRET_ACCESS_KEY", "auth_token",
                 "--client-credentials", "dbpassword", "X.Token"):
        assert looks_secret(name), name
    for name in ("--author", "--workers", "monkey", "--keyboard-layout", "--passenger", ""):
        assert not looks_secret(name), name


def test_a_command_string_is_redacted_word_by_word() -> None:
    assert redact_command("app.py --token abc 'two words'") == \
        f"app.py --token '{REDACTED}' 'two words'"
    assert redact_command("app.py --token 'unbalanced") == "app.py --token 'unbalanced"


def test_keep_argv_keeps_it_whole(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATCHKIT_KEEP_ARGV", "1")
    assert redact_argv(["app.py", "--password=hunter2"]) == ["app.py", "--password=hunter2"]


def test_no_report_carries_the_secret(run_cmd, tmp_path: Path) -> None:
    # The target and a followed Python child both get the secret on their command lines.
    (tmp_path / "app.py").write_text(
        "import subprocess, sys\n"
        "subprocess.run([sys.executable, '-c', 'pass', '--password=hunter2',"
        " 'postgres://app:hunter3@db/main'], check=True)\n")
    proc = run_cmd("-m", "patchkit.audit", "--json", "r.json", "--html", "r.html",
                   "--sarif", "r.sarif", "app.py", "--password", "hunter2", "API_KEY=hunter4")
    assert proc.returncode == 0, proc.stderr
    report = json.loads((tmp_path / "r.json").read_text())
    assert len(report["processes"]) == 2, report["processes"]
    for name in ("r.json", "r.html", "r.sarif"):
        text = (tmp_path / name).read_text()
        for secret in ("hunter2", "hunter3", "hunter4"):
            assert secret not in text, (name, secret)
    assert "hunter" not in proc.stdout + proc.stderr.replace(sys.executable, "")
    assert report["argv"][1:] == ["--password", REDACTED, f"API_KEY={REDACTED}"]


def test_keep_argv_option_keeps_the_report_whole(run_cmd, tmp_path: Path) -> None:
    (tmp_path / "app.py").write_text("pass\n")
    proc = run_cmd("-m", "patchkit.audit", "-q", "--keep-argv", "--json", "r.json", "app.py",
                   "--password", "hunter2")
    assert proc.returncode == 0, proc.stderr
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["argv"][1:] == ["--password", "hunter2"]
    proc = run_cmd("-m", "patchkit.audit", "--render", "r.json", "--json", "again.json")
    assert json.loads((tmp_path / "again.json").read_text())["argv"][1:] == \
        ["--password", REDACTED]  # re-rendered without --keep-argv: redacted
