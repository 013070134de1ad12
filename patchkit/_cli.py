"""What every patchkit command shares: ``--version``, usage errors, report width.

Each command (``python -m patchkit``, ``patchkit.audit``, ``patchkit.static``,
``patchkit.conformance`` and the ``patchkit`` script) answers ``--version`` with the
same line, reports bad usage as argparse does (a ``usage:`` line, then
``PROG: error: MESSAGE``, exit status 2), and prints reports whole-lined when its
output is not a terminal. Nothing here imports gevent or rich.
"""

from __future__ import annotations

import os
import platform
import sys
from typing import IO

__all__ = ["USAGE_EXIT", "version_text", "usage_error", "report_width"]

USAGE_EXIT = 2

# Wide enough that no report line is wrapped, folded or cut when piped or in CI logs.
_UNLIMITED = 10_000


def version_text(prog: str) -> str:
    """``PROG 0.1.0 (gevent 26.9.0, CPython 3.11.7)``: what ``--version`` prints."""
    from importlib.metadata import PackageNotFoundError, version

    from . import __version__

    try:
        gevent = version("gevent")
    except PackageNotFoundError:
        gevent = "not installed"
    return (f"{prog} {__version__} (gevent {gevent}, "
            f"{platform.python_implementation()} {platform.python_version()})")


def usage_error(usage: str, prog: str, message: str, stream: IO[str] | None = None) -> int:
    """Print *usage* (its ``usage:`` line) and ``PROG: error: MESSAGE``; return 2.

    Args:
        usage: The command's usage text; only its first paragraph is printed, as
            argparse does.
        prog: The command's name, e.g. ``python -m patchkit.audit``.
        message: One line saying what is wrong and what to do.
        stream: Where to print (stderr by default).
    """
    out = stream or sys.stderr
    short = usage.strip().split("\n\n", 1)[0]
    out.write(f"{short}\n{prog}: error: {message}\n")
    out.flush()
    return USAGE_EXIT


def report_width(file: IO[str]) -> int | None:
    """The width a report on *file* is laid out to: None (measure it) on a terminal or
    when ``COLUMNS`` is set; otherwise unlimited, so piped output and CI logs keep whole
    lines instead of tables cut at 80 columns."""
    try:
        terminal = file.isatty()
    except (AttributeError, ValueError):
        terminal = False
    if terminal or os.environ.get("COLUMNS", "").strip().isdigit():
        return None
    return _UNLIMITED
