"""The auditor's settings, validated before the target runs.

Default threshold: 20 ms. A greenlet that holds the hub that long adds 20 ms of
latency to every other connection the process serves -- more than a loopback
round trip takes hundreds of times over, and the size of block users notice at
p99. gevent's monitor defaults to 100 ms because it samples (and a block must span
two of its periods to be seen); loop-turn timing is exact, so the threshold can sit
well below that. It stays above the few milliseconds an OS can deschedule a busy
process for on a loaded machine, which would otherwise read as noise.
"""

from __future__ import annotations

from dataclasses import dataclass

from patchkit._run import Target

from .._atomic import check_writable

__all__ = ["DEFAULT_THRESHOLD", "AuditConfig", "RenderConfig", "ConfigError", "check_report_path",
           "STRICT_EXIT_CODE", "STUCK_EXIT_CODE", "DEFAULT_GRACE", "DEFAULT_FLUSH"]

DEFAULT_THRESHOLD = 0.020
STRICT_EXIT_CODE = 1
STUCK_EXIT_CODE = 124  # the target did not stop within the grace period (as timeout(1))
DEFAULT_GRACE = 5.0
DEFAULT_CHILD_GRACE = 1.0
DEFAULT_FLUSH = 2.0  # seconds between flushes: what a SIGKILLed process can lose at most


class ConfigError(Exception):
    """A bad option; the message is one line, meant for the user."""


@dataclass(frozen=True)
class AuditConfig:
    """How to audit one run.

    Attributes:
        target: What to run.
        threshold: Minimum hub block reported, in seconds.
        json_path: Where to write the JSON report (``-`` for stdout), or None.
        duration: Stop the target after this many seconds and report, or None.
        strict: Exit non-zero when any finding remains after filtering.
        include: Report only these packages (distribution names; ``app`` is the
            program's own code). Empty means all.
        exclude: Leave these packages out.
        patch: Call ``patchkit.patch_all()`` before running the target.
        quiet: No terminal report.
        html_path: Where to write the HTML report, or None.
        sarif_path: Where to write the SARIF log, or None.
        root: The project root SARIF paths are made relative to (the starting cwd).
        follow: Audit the Python children the program spawns (forks are always audited).
        grace: Seconds the program has to stop after SIGTERM, SIGINT or --duration
            before the report is written and the process ended (``STUCK_EXIT_CODE``).
        child_grace: Seconds the report waits for child processes still ending.
        flush_interval: Seconds between each process's flushes of its findings.
        exact: Time every greenlet switch (a tracer on each switch: exact durations in
            turns shared by several greenlets, at a cost per switch) instead of each
            loop turn (the default; see ``detectors.turns``).
        keep_argv: Keep command lines whole in the report (by default the values of
            secret-looking arguments are redacted: ``patchkit._redact``).
    """

    target: Target
    threshold: float = DEFAULT_THRESHOLD
    json_path: str | None = None
    duration: float | None = None
    strict: bool = False
    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    patch: bool = False
    quiet: bool = False
    html_path: str | None = None
    sarif_path: str | None = None
    root: str | None = None
    follow: bool = True
    grace: float = DEFAULT_GRACE
    child_grace: float = DEFAULT_CHILD_GRACE
    flush_interval: float = DEFAULT_FLUSH
    exact: bool = False
    keep_argv: bool = False


@dataclass(frozen=True)
class RenderConfig:
    """Re-render saved JSON reports (``--render``), merged when several: nothing is run.

    Attributes:
        sources: The ``--json`` reports to read.
        html_path, sarif_path, json_path: Files to write (absolute), or None.
        root: The project root SARIF paths are made relative to.
        quiet: No terminal report.
        keep_argv: Keep command lines whole (else secret-looking values are redacted).
    """

    sources: tuple[str, ...]
    html_path: str | None = None
    sarif_path: str | None = None
    root: str | None = None
    quiet: bool = False
    json_path: str | None = None
    keep_argv: bool = False


def check_report_path(path: str, option: str = "--json") -> None:
    """Make sure a report can be written to *path*, by creating a file beside it.

    Raises:
        ConfigError: the folder is missing or unwritable, or *path* is a folder.
    """
    if path == "-":
        return
    problem = check_writable(option, path)
    if problem is not None:
        raise ConfigError(problem)
