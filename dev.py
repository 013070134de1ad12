#!/usr/bin/env python3
"""patchkit's two commands, each setting itself up on a fresh machine with only Python 3.11+.

    python3 dev.py demo    # audit the bundled example program: a report appears
    python3 dev.py test    # run the whole test suite (in parallel)

Both create ``.venv/`` in this folder and install patchkit with its test extras
the first time (and again whenever pyproject.toml changes). Anything after the
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
VENV = ROOT / ".venv"
PYTHON = VENV / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
STAMP = VENV / ".patchkit-installed"
DEMO = ["-m", "patchkit.audit", "-m", "examples.blocking_app"]


def _fingerprint() -> str:
    return hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()


def ensure_venv() -> None:
    """Create .venv and install patchkit[test] into it unless already done for this pyproject."""
    if sys.version_info < (3, 11):
        sys.exit(f"patchkit needs Python 3.11 or newer; this is {sys.version.split()[0]}. "
                 "Run it with python3.11 (or newer): python3.11 dev.py ...")
    if STAMP.exists() and STAMP.read_text() == _fingerprint() and PYTHON.exists():
        return
    if not PYTHON.exists():
        print("dev.py: creating .venv ...", file=sys.stderr)
        venv.EnvBuilder(with_pip=True).create(VENV)
    print("dev.py: installing patchkit[test] into .venv ...", file=sys.stderr)
    subprocess.run([str(PYTHON), "-m", "pip", "install", "--quiet", "--upgrade", "pip"],
                   check=True)
    subprocess.run([str(PYTHON), "-m", "pip", "install", "--quiet", "-e", f"{ROOT}[test]"],
                   check=True)
    STAMP.write_text(_fingerprint())


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in ("demo", "test"):
        print(__doc__, file=sys.stderr)
        return 2
    command, rest = argv[0], argv[1:]
    ensure_venv()
    if command == "demo":
        args = [*DEMO[:2], *rest, *DEMO[2:]]
    else:
        args = ["-m", "pytest", "-n", "auto", "-q", *rest]
    return subprocess.run([str(PYTHON), *args], cwd=ROOT).returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
