"""Shared helpers: tests that patch run their code in a fresh interpreter."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Callable

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    env.pop("GEVENT_MONITOR_THREAD_ENABLE", None)
    env["PYTHONWARNINGS"] = "default"
    return env


RunPy = Callable[..., subprocess.CompletedProcess]


@pytest.fixture
def run_py(tmp_path: Path) -> RunPy:
    """Run a snippet (dedented) in a new interpreter; returns the CompletedProcess."""

    def run(code: str, *args: str, timeout: float = 60, cwd: Path | None = None,
            check: bool = True) -> subprocess.CompletedProcess:
        script = tmp_path / "snippet.py"
        script.write_text(textwrap.dedent(code))
        proc = subprocess.run([sys.executable, str(script), *args], capture_output=True,
                              text=True, timeout=timeout, cwd=cwd or tmp_path, env=_env())
        if check and proc.returncode != 0:
            raise AssertionError(f"exit {proc.returncode}\nstdout:\n{proc.stdout}\n"
                                 f"stderr:\n{proc.stderr}")
        return proc

    return run


@pytest.fixture
def run_cmd(tmp_path: Path) -> Callable[..., subprocess.CompletedProcess]:
    """Run ``python <args>`` in a new interpreter (cwd: the test's tmp_path by default)."""

    def run(*args: str, timeout: float = 60, cwd: Path | None = None,
            input: str | None = None) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, *args], capture_output=True, text=True,
                              timeout=timeout, cwd=cwd or tmp_path, env=_env(), input=input)

    return run
pytest_plugins = ["pytester"]

UNAVAILABLE_LOG = "PATCHKIT_UNAVAILABLE_LOG"  # dev.py test reads it for its closing line


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    """Append each test skipped as unavailable here (tests/services.py ``unavailable``) to the
    file ``PATCHKIT_UNAVAILABLE_LOG`` names, as ``nodeid<TAB>reason`` lines (xdist workers and
    their controller may both write a test: the reader dedupes by node id)."""
    log = os.environ.get(UNAVAILABLE_LOG)
    if not (log and report.skipped and isinstance(report.longrepr, tuple)):
        return
    reason = str(report.longrepr[2]).removeprefix("Skipped: ")
    if reason.startswith("unavailable here: "):
        reason = " ".join(reason.removeprefix("unavailable here: ").split())
        fd = os.open(log, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            os.write(fd, f"{report.nodeid}\t{reason}\n".encode())
        finally:
            os.close(fd)
