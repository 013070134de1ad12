#!/usr/bin/env python3
"""patchkit's two commands, each setting itself up on a fresh machine with only Python 3.11+.

    python3 dev.py demo    # audit the bundled example program: a report appears
    python3 dev.py test    # lint (ruff, mypy), then run the whole test suite (in parallel)

Both use a virtual environment made with the Python that runs dev.py and install
patchkit (editable) with its test extras into it the first time, and again whenever
pyproject.toml changes. The first Python to run dev.py gets .venv/; another Python
version gets its own .venv-3.X/ (python3.13 dev.py test uses .venv-3.13/ when .venv/
is a 3.11 one), so each version's tests run in that version. Anything after the
command is passed on: ``python3 dev.py test -k runner``, ``python3 dev.py demo --json -``.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VERSION = f"{sys.version_info[0]}.{sys.version_info[1]}"
DEMO = ["-m", "patchkit.audit", "-m", "examples.blocking_app"]
LINT = [["-m", "ruff", "check", "--quiet", "."], ["-m", "mypy"]]


def _venv_version(folder: Path) -> str | None:
    """The X.Y of the Python that made the venv in *folder* (from its pyvenv.cfg), or None."""
    try:
        lines = (folder / "pyvenv.cfg").read_text().splitlines()
    except OSError:
        return None
    for line in lines:
        key, _, value = line.partition("=")
        if key.strip() == "version":
            return ".".join(value.strip().split(".")[:2])
    return None


def venv_folder() -> Path:
    """.venv when it is missing or made by this Python's X.Y; else .venv-X.Y."""
    default = ROOT / ".venv"
    made_by = _venv_version(default)
    return default if made_by in (None, VERSION) else ROOT / f".venv-{VERSION}"


def _python(folder: Path) -> Path:
    return folder / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def _fingerprint() -> str:
    return hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()


def ensure_venv() -> Path:
    """Create the venv and install patchkit[test] unless already done for this pyproject.

    Returns:
        The venv's python.
    """
    if sys.version_info < (3, 11):
        sys.exit(f"patchkit needs Python 3.11 or newer; this is {sys.version.split()[0]}. "
                 "Run it with python3.11 (or newer): python3.11 dev.py ...")
    folder = venv_folder()
    python, stamp = _python(folder), folder / ".patchkit-installed"
    if stamp.exists() and stamp.read_text() == _fingerprint() and python.exists():
        return python
    if not python.exists():
        print(f"dev.py: creating {folder.name}/ with Python {VERSION} ...", file=sys.stderr)
        venv.EnvBuilder(with_pip=True, clear=folder.exists()).create(folder)
    print(f"dev.py: installing patchkit[test] into {folder.name}/ ...", file=sys.stderr)
    pip = [str(python), "-m", "pip", "--quiet"]
    subprocess.run([*pip, "install", "--upgrade", "pip"], check=True)
    # Before the distribution was renamed gevent-patchkit it was "patchkit"; two editable
    # installs of one tree would both register the pytest plugin and the script.
    subprocess.run([*pip, "uninstall", "--yes", "patchkit"], check=False,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    subprocess.run([*pip, "install", "-e", f"{ROOT}[test]"], check=True)
    stamp.write_text(_fingerprint())
    return python


def lint(python: Path) -> int:
    """Run ruff (the rule set in pyproject.toml) and mypy --strict on the package."""
    for command in LINT:
        print(f"dev.py: {command[1]} ...", file=sys.stderr)
        code = subprocess.run([str(python), *command], cwd=ROOT).returncode
        if code != 0:
            print(f"dev.py: {command[1]} failed (exit {code}); fix the above first",
                  file=sys.stderr)
            return code
    return 0


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in ("demo", "test"):
        print(__doc__, file=sys.stderr)
        return 2
    command, rest = argv[0], argv[1:]
    python = ensure_venv()
    if command == "demo":
        args = [*DEMO[:2], *rest, *DEMO[2:]]
    else:
        code = lint(python)
        if code != 0:
            return code
        args = ["-m", "pytest", "-n", "auto", "-q", *rest]
    return subprocess.run([str(python), *args], cwd=ROOT).returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
