"""What every patchkit command shares: ``--version``, usage errors, report width.

Each command (``python -m patchkit``, ``patchkit.audit``, ``patchkit.static``,
``patchkit.conformance`` and the ``patchkit`` script) answers ``--version`` with the
same line, reports bad usage as argparse does (a ``usage:`` line, then
``PROG: error: MESSAGE``, exit status 2), and prints reports whole-lined when its
output is not a terminal. Nothing here imports gevent or rich.
"""

from __future__ import annotations

import argparse
import sys
from typing import IO, Any, Sequence

__all__ = ["USAGE_EXIT", "VersionAction", "version_text", "usage_error", "report_width"]

USAGE_EXIT = 2

# Wide enough that no report line is wrapped, folded or cut when piped or in CI logs.
_UNLIMITED = 10_000


def version_text(prog: str) -> str:
    """``PROG 0.1.0 (gevent 26.9.0, CPython 3.11.7)``: what ``--version`` prints."""
    import platform
    from importlib.metadata import PackageNotFoundError, version

    from . import __version__

    try:
        gevent = version("gevent")
    except PackageNotFoundError:
        gevent = "not installed"
    return (f"{prog} {__version__} (gevent {gevent}, "
            f"{platform.python_implementation()} {platform.python_version()})")


class VersionAction(argparse.Action):
    """``--version`` for an argparse parser: prints :func:`version_text` for its prog.

    Unlike argparse's own version action, the text is made only when asked for (it reads
    gevent's installed version).
    """

    def __init__(self, option_strings: Sequence[str], dest: str = argparse.SUPPRESS,
                 default: Any = argparse.SUPPRESS, help: str | None = None) -> None:
        super().__init__(option_strings, dest, nargs=0, default=default,
                         help=help or "print patchkit's version and exit")

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace,
                 values: Any, option_string: str | None = None) -> None:
        print(version_text(parser.prog))
        parser.exit()


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
    """The width a report on *file* is laid out to.

    None on a terminal (rich measures it, or takes ``COLUMNS``). Otherwise unlimited,
    whatever ``COLUMNS`` says (pytest-xdist, for one, exports ``COLUMNS=80`` to everything
    it starts): piped output and CI logs keep whole lines instead of tables and
    messages cut or wrapped at 80 columns.
    """
    try:
        terminal = file.isatty()
    except (AttributeError, ValueError):
        terminal = False
    return None if terminal else _UNLIMITED
