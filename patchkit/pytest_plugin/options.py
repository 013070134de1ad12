"""The plugin's options: declared for pytest, parsed once into :class:`Options`.

Every value is checked here, at the edge (a usage error names the option or ini key), so
the hooks read a frozen dataclass from ``config.stash`` and check nothing again.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import pytest

__all__ = ["DEFAULT_HANG", "OPTIONS", "Options", "add_options", "enabled", "parse", "report_kind"]

DEFAULT_HANG = 30.0
REPORT_KINDS = {".json": "json", ".html": "html", ".htm": "html", ".sarif": "sarif"}


@dataclass(frozen=True)
class Options:
    """What ``--patchkit-*`` and the ``patchkit_*`` ini keys asked for.

    Attributes:
        threshold: Shortest hub block (seconds) that fails a test.
        allow: Packages or ``path[:line]`` call sites allowed to block.
        fail_cpu: Computation and blocks of unknown cause fail tests too.
        reports: Report files to write at the end, by suffix.
        hang: Seconds before a hub block still going (or a session not exiting) is
            reported; 0 turns both off.
        skip: Patchers not applied.
    """

    threshold: float
    allow: tuple[str, ...] = ()
    fail_cpu: bool = False
    reports: tuple[str, ...] = ()
    hang: float = DEFAULT_HANG
    skip: tuple[str, ...] = ()


OPTIONS = pytest.StashKey[Options]()


def add_options(parser: pytest.Parser) -> None:
    """Declare the command-line options and ini keys."""
    group = parser.getgroup("patchkit", "fail tests that block the gevent hub")
    group.addoption("--patchkit", action="store_true", default=None,
                    help="patch with patchkit.patch_all() before tests are imported and "
                         "fail tests that do unpatched, hub-blocking I/O")
    group.addoption("--patchkit-threshold", default=None, metavar="SECONDS",
                    help="shortest hub block that fails a test (default 0.02)")
    group.addoption("--patchkit-cpu", action="store_true", default=None,
                    help="fail tests whose hub was held by computation too (Python or C), "
                         "or by a block whose cause no CPU-time reading showed (by default "
                         "both are reported, not failed)")
    group.addoption("--patchkit-report", action="append", default=None, metavar="PATH",
                    help="write the whole session's findings as the audit's report: "
                         "PATH ending in .json, .html or .sarif (repeatable)")
    group.addoption("--patchkit-no", action="append", default=None, metavar="PATCHER",
                    help="do not apply this patcher (repeatable; like python -m patchkit "
                         "--no-NAME): e.g. zmq for a suite that tests pyzmq's own sockets")
    group.addoption("--patchkit-hang", default=None, metavar="SECONDS",
                    help="report a hub block still going after SECONDS, with its stack, "
                         "and what keeps a finished session from exiting after as long "
                         "(default 30; 0 turns both off)")
    parser.addini("patchkit", type="bool", default=False,
                  help="enable patchkit's blocking checks (like --patchkit)")
    parser.addini("patchkit_threshold", default="", help="like --patchkit-threshold")
    parser.addini("patchkit_cpu", type="bool", default=False, help="like --patchkit-cpu")
    parser.addini("patchkit_report", type="linelist", default=[],
                  help="like --patchkit-report (one path a line)")
    parser.addini("patchkit_hang", default="", help="like --patchkit-hang")
    parser.addini("patchkit_no", type="linelist", default=[],
                  help="like --patchkit-no (one patcher a line)")
    parser.addini("patchkit_allow", type="linelist", default=[],
                  help="packages (distribution names, 'app' for your code) or path[:line] "
                       "call sites allowed to block")


def enabled(early_config: pytest.Config) -> bool:
    """Whether ``--patchkit`` or the ``patchkit`` ini key turns the plugin on."""
    return bool(early_config.known_args_namespace.patchkit or early_config.getini("patchkit"))


def report_kind(path: str) -> str | None:
    """``json``, ``html`` or ``sarif`` from *path*'s suffix (``.sarif.json`` is SARIF)."""
    lower = path.lower()
    if lower.endswith(".sarif.json"):
        return "sarif"
    return REPORT_KINDS.get(os.path.splitext(lower)[1])


def parse(early_config: pytest.Config) -> Options:
    """The options from the command line and the ini file.

    Raises:
        pytest.UsageError: a value out of range, a report path that cannot be written,
            an unknown patcher.
    """
    from ..audit.config import DEFAULT_THRESHOLD

    args = early_config.known_args_namespace
    reports = tuple(args.patchkit_report or early_config.getini("patchkit_report"))
    for path in reports:
        if report_kind(path) is None:
            raise pytest.UsageError(f"--patchkit-report: {path!r} ends in none of .json, "
                                    ".html, .sarif (the suffix says which report to write)")
        problem = _unwritable(path)  # now, not after the whole run
        if problem is not None:
            raise pytest.UsageError(f"--patchkit-report {path}: {problem}")
    fail_cpu = bool(args.patchkit_cpu) or bool(early_config.getini("patchkit_cpu"))
    return Options(_seconds(early_config, "threshold", DEFAULT_THRESHOLD),
                   tuple(early_config.getini("patchkit_allow")), fail_cpu, reports,
                   _seconds(early_config, "hang", DEFAULT_HANG, zero_ok=True),
                   _skipped(early_config))


def _seconds(early_config: pytest.Config, name: str, default: float,
             zero_ok: bool = False) -> float:
    """A number of seconds from ``--patchkit-<name>`` or the ``patchkit_<name>`` ini key."""
    option, ini = f"--patchkit-{name}", f"patchkit_{name}"
    raw = getattr(early_config.known_args_namespace, ini)
    source = option
    if raw is None:
        raw, source = early_config.getini(ini) or "", ini
    if raw == "":
        return default
    from .._cli import number_problem

    try:
        value = float(raw)
    except ValueError:
        raise pytest.UsageError(f"{source}: {raw!r} is not a number of seconds "
                                f"(e.g. {default:g})") from None
    problem = number_problem(value, 0.0001, 3600.0, zero_ok)
    if problem is not None:
        raise pytest.UsageError(f"{source}: {raw!r} {problem} (e.g. {default:g})")
    return value


def _unwritable(path: str) -> str | None:
    """Why a report cannot be written at *path* (its missing folders are made at the end),
    or None."""
    if os.path.isdir(path):
        return "is a folder, not a file"
    if os.path.exists(path):  # an existing file, FIFO or device: as the audit checks it
        from .._atomic import check_writable

        problem = check_writable("--patchkit-report", path)
        return problem.split(": ", 1)[-1] if problem else None
    folder = os.path.dirname(os.path.abspath(path))
    while not os.path.exists(folder):
        folder = os.path.dirname(folder)
    if not os.path.isdir(folder):
        return f"{folder} is a file, not a folder"
    if not os.access(folder, os.W_OK | os.X_OK):
        return f"cannot write in {folder}"
    return None


def _skipped(early_config: pytest.Config) -> tuple[str, ...]:
    """The patchers ``--patchkit-no`` (or ``patchkit_no``) turns off; usage errors."""
    import patchkit

    names = tuple(early_config.known_args_namespace.patchkit_no
                  or early_config.getini("patchkit_no"))
    for name in names:
        try:
            patchkit.registry().resolve(name)
        except patchkit.UnknownPatcherError as exc:
            raise pytest.UsageError(f"--patchkit-no: {exc}") from None
    return names
