#!/usr/bin/env python3
"""patchkit's two commands, each setting itself up on a fresh machine with only Python 3.11+.

    python3 dev.py demo    # audit the bundled example program: a report appears
    python3 dev.py test    # set up, lint (ruff, mypy), then run the whole test suite

Both use a virtual environment made with the Python that runs dev.py. ``demo`` installs
patchkit alone into it (editable), so it works on a machine with nothing but Python.
``test`` first runs ``.ci/services.sh`` (the same set-up CI uses: Debian's servers and build
headers, installed when missing, as root with apt-get; elsewhere it says what to install),
then installs the dependency groups of pyproject.toml: ``test`` and ``lint``, and
``test-native`` (libraries that build from C against those headers) where it builds. What
could not be set up is said in one line, and the tests that need it are skipped and counted
in the closing line (in CI, ``PATCHKIT_REQUIRE_SERVICES=1`` makes them failures).

The first Python to run dev.py gets .venv/; another Python version gets its own .venv-3.X/
(python3.13 dev.py test uses .venv-3.13/ when .venv/ is a 3.11 one), so each version's tests
run in that version. What is installed is redone when pyproject.toml changes. Anything
after the command is passed on: ``python3 dev.py test -k runner``, ``python3 dev.py demo
--json -``.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import tempfile
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VERSION = f"{sys.version_info[0]}.{sys.version_info[1]}"
DEMO = ["-m", "patchkit.audit", "-m", "examples.blocking_app"]
LINT = [["-m", "ruff", "check", "--quiet", "."], ["-m", "mypy"]]
SETUP = ROOT / ".ci" / "services.sh"
TEST_GROUPS = ("test", "lint")
NATIVE_GROUP = "test-native"
STAMP = ".patchkit-installed.json"


class SetupError(Exception):
    """A set-up step failed; the message says which and what to do (no traceback)."""


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


def _run(command: list[str], what: str) -> None:
    """Run a set-up *command*; raise SetupError naming *what* failed."""
    try:
        code = subprocess.run(command, cwd=ROOT).returncode
    except OSError as exc:
        raise SetupError(f"{what}: {exc}") from None
    if code != 0:
        raise SetupError(f"{what} failed (exit {code}); the output above says why")


class Venv:
    """The venv of this Python version and a record of what dev.py installed into it."""

    def __init__(self) -> None:
        self.folder = venv_folder()
        self.python = _python(self.folder)
        self.stamp = self.folder / STAMP

    def _installed(self) -> dict[str, str]:
        """``{what: how}`` installed for the current pyproject.toml (empty when it changed)."""
        try:
            record = json.loads(self.stamp.read_text())
        except (OSError, ValueError):
            return {}
        if not isinstance(record, dict) or record.get("pyproject") != _fingerprint():
            return {}
        return {str(k): str(v) for k, v in record.get("installed", {}).items()}

    def _note(self, what: str, how: str) -> None:
        installed = self._installed()
        installed[what] = how
        self.stamp.write_text(json.dumps({"pyproject": _fingerprint(), "installed": installed}))

    def _pip(self, *args: str) -> list[str]:
        return [str(self.python), "-m", "pip", "--quiet", *args]

    def create(self) -> None:
        """Make the venv (and an up-to-date pip, which installs dependency groups)."""
        if self.python.exists() and self._installed():
            return
        if not self.python.exists():
            print(f"dev.py: creating {self.folder.name}/ with Python {VERSION} ...",
                  file=sys.stderr)
            try:
                venv.EnvBuilder(with_pip=True, clear=self.folder.exists()).create(self.folder)
            except (OSError, subprocess.CalledProcessError) as exc:
                raise SetupError(f"could not create {self.folder.name}/ ({exc}); on Debian, "
                                 f"apt-get install python{VERSION}-venv") from None
        _run(self._pip("install", "--upgrade", "pip>=25.1"), "upgrading pip in the venv")
        # Before the distribution was renamed gevent-patchkit it was "patchkit"; two editable
        # installs of one tree would both register the pytest plugin and the script.
        subprocess.run(self._pip("uninstall", "--yes", "patchkit"), check=False,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self._note("pip", "ok")

    def ensure(self, *groups: str) -> None:
        """patchkit (editable) and the dependency *groups*, unless already installed."""
        self.create()
        wanted = ("patchkit", *groups)
        if all(self._installed().get(what) == "ok" for what in wanted):
            return
        print(f"dev.py: installing patchkit{' and ' if groups else ''}{', '.join(groups)} "
              f"into {self.folder.name}/ ...", file=sys.stderr)
        group_args = [arg for group in groups for arg in ("--group", group)]
        _run(self._pip("install", "-e", ".", *group_args), "pip install")
        for what in wanted:
            self._note(what, "ok")

    def ensure_native(self, missing: list[str]) -> str | None:
        """The C-built test libraries where they build; None, or why they are not there.

        A failed build is not retried until what it depends on changes (the Debian packages
        still missing, ``PKG_CONFIG``), so a machine without the headers pays for it once.
        """
        condition = " ".join([*missing, os.environ.get("PKG_CONFIG", "")])
        how = self._installed().get(NATIVE_GROUP)
        if how == "ok":
            return None
        why = ("they did not build (missing: " + " ".join(missing) + ")" if missing
               else "they did not build (see pip's output above)")
        if how == f"failed: {condition}":
            return why
        print(f"dev.py: installing {NATIVE_GROUP} (mysqlclient, pylibmc, python-ldap, uwsgi: "
              "built from C) ...", file=sys.stderr)
        try:
            _run(self._pip("install", "--group", NATIVE_GROUP), f"pip install {NATIVE_GROUP}")
        except SetupError:
            self._note(NATIVE_GROUP, f"failed: {condition}")
            return why
        self._note(NATIVE_GROUP, "ok")
        return None


def system_setup() -> list[str]:
    """Run .ci/services.sh; the Debian packages still missing after it."""
    try:
        proc = subprocess.run(["bash", str(SETUP)], cwd=ROOT, stdout=subprocess.PIPE, text=True)
    except OSError as exc:
        print(f"dev.py: could not run {SETUP.relative_to(ROOT)} ({exc}); the tests that need "
              "Debian's servers are skipped", file=sys.stderr)
        return ["(bash)"]
    last = (proc.stdout.strip().splitlines() or [""])[-1]
    if proc.returncode != 0 or not last.startswith("missing:"):
        print(f"dev.py: {SETUP.relative_to(ROOT)} failed (exit {proc.returncode}); the tests "
              "that need Debian's servers may be skipped", file=sys.stderr)
        return ["(services.sh failed)"]
    return last.removeprefix("missing:").split()


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


def _unavailable(log: Path) -> dict[str, str]:
    """``{test: reason}`` from the file tests/conftest.py writes for tests skipped here."""
    found: dict[str, str] = {}
    try:
        text = log.read_text(errors="replace")
    except OSError:
        return found
    for line in text.splitlines():
        test, _, reason = line.partition("\t")
        found[test] = reason
    return found


def run_tests(env: Venv, rest: list[str]) -> int:
    """Set up, lint, run pytest; after it, a line counting the tests that could not run."""
    missing = system_setup()
    env.ensure(*TEST_GROUPS)
    native = env.ensure_native(missing)
    if native:
        print(f"dev.py: the {NATIVE_GROUP} libraries are not installed: {native}; their "
              "tests are skipped", file=sys.stderr)
    code = lint(env.python)
    if code != 0:
        return code
    with tempfile.TemporaryDirectory(prefix="patchkit-dev-") as tmp:
        log = Path(tmp) / "unavailable.tsv"
        environ = {**os.environ, "PATCHKIT_UNAVAILABLE_LOG": str(log)}
        code = subprocess.run([str(env.python), "-m", "pytest", "-n", "auto", "-q", *rest],
                              cwd=ROOT, env=environ).returncode
        skipped = _unavailable(log)
    if skipped:
        reasons = sorted(set(skipped.values()))
        more = f"; and {len(reasons) - 5} more" if len(reasons) > 5 else ""
        lacking = f" -- missing Debian packages: {' '.join(missing)}" if missing else ""
        print(f"dev.py: {len(skipped)} test(s) could not run on this machine: "
              f"{'; '.join(reasons[:5])}{more}{lacking}", file=sys.stderr)
    return code


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in ("demo", "test"):
        print(__doc__, file=sys.stderr)
        return 2
    if sys.version_info < (3, 11):
        print(f"dev.py: patchkit needs Python 3.11 or newer; this is "
              f"{sys.version.split()[0]}. Run it with python3.11 (or newer): "
              "python3.11 dev.py ...", file=sys.stderr)
        return 2
    command, rest = argv[0], argv[1:]
    env = Venv()
    try:
        if command == "demo":
            env.ensure()
            return subprocess.run([str(env.python), *DEMO[:2], *rest, *DEMO[2:]],
                                  cwd=ROOT).returncode
        return run_tests(env, rest)
    except SetupError as exc:
        print(f"dev.py: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("dev.py: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
