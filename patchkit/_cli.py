"""What every patchkit command shares: ``--version``, usage errors, broken pipes, width.

Each command (``python -m patchkit``, ``patchkit.audit``, ``patchkit.knowledge``,
``patchkit.static``, ``patchkit.conformance`` and the ``patchkit`` script) answers
``--version`` with the same line, reports bad usage as argparse does (a ``usage:`` line,
then ``PROG: error: MESSAGE``, exit status 2), ends quietly with status 141 when the
reader of its output goes away (``| head -1``), and prints reports whole-lined when its
output is not a terminal. Nothing here imports gevent or rich.
"""

from __future__ import annotations

import argparse
import functools
import math
import os
import sys
from typing import IO, Any, Callable, ParamSpec, Sequence

__all__ = ["USAGE_EXIT", "BROKEN_PIPE_EXIT", "VersionAction", "version_text", "usage_error",
           "report_width", "quiet_broken_pipe", "number_problem", "seconds", "MAX_SECONDS"]

USAGE_EXIT = 2

# 128 + SIGPIPE: the status a shell shows for any program whose reader stopped reading
# (`yes | head -1`, `git log | head -1`), so `set -o pipefail` scripts see the same.
BROKEN_PIPE_EXIT = 141

_P = ParamSpec("_P")

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


# The longest wait any option may ask for: a day. Beyond it threads' and locks' timeouts
# overflow (threading.TIMEOUT_MAX, C's time_t), which killed helper threads with tracebacks;
# a run that should last longer is stopped by its launcher, not by --duration.
MAX_SECONDS = 86_400.0


def number_problem(value: float, low: float, high: float = MAX_SECONDS,
                   zero_ok: bool = False) -> str | None:
    """What is wrong with *value* for a setting that takes *low* to *high* (or 0, when
    *zero_ok*: off), as the end of a sentence; None when nothing is. NaN and the infinities
    are never accepted."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return f"is not a number ({value!r})"
    if zero_ok and value == 0:
        return None
    if not math.isfinite(value) or not low <= value <= high:
        off = " (or 0 for off)" if zero_ok else ""
        return f"must be a number from {low:g} to {high:g}{off}"
    return None


def seconds(low: float, high: float = MAX_SECONDS,
            zero_ok: bool = False) -> Callable[[str], float]:
    """An argparse ``type=`` for a number of seconds from *low* to *high* (validated at the
    edge, once: ``inf``, ``nan`` and ``1e300`` are usage errors naming the range)."""

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
        problem = number_problem(value, low, high, zero_ok)
        if problem is not None:
            raise argparse.ArgumentTypeError(f"{text!r} {problem}")
        return value

    return parse


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


def quiet_broken_pipe(main: Callable[_P, int]) -> Callable[_P, int]:
    """Wrap a command's ``main`` so a reader that goes away ends it quietly.

    When standard output is a pipe whose reader has closed it (``cmd | head -1``), the
    wrapped function returns :data:`BROKEN_PIPE_EXIT` (141) instead of ending in a
    ``BrokenPipeError`` traceback, or in ``Exception ignored ... BrokenPipeError`` and
    status 120 from the interpreter's own flush at exit: stdout is flushed before
    returning (and before a ``SystemExit``, such as argparse's after ``--help``, goes
    on), and on the error it is pointed at ``os.devnull`` so that no later flush fails
    again. rich's ``Console``, which handles the error itself by exiting 1, ends with
    141 too. Nothing is printed on stderr. Other exceptions and exit statuses pass
    through unchanged.
    """

    @functools.wraps(main)
    def wrapper(*args: _P.args, **kwargs: _P.kwargs) -> int:
        try:
            status = main(*args, **kwargs)
        except BrokenPipeError:
            return _broken_pipe()
        except SystemExit as exc:
            # rich's Console.on_broken_pipe raises SystemExit(1) inside its handler.
            if isinstance(exc.__context__, BrokenPipeError) or not _flushed():
                return _broken_pipe()
            raise
        return status if _flushed() else _broken_pipe()

    return wrapper


def _flushed() -> bool:
    """Flush stdout here, not at interpreter exit, where a failure can only be reported."""
    try:
        sys.stdout.flush()
    except BrokenPipeError:
        return False
    except (AttributeError, ValueError):  # stdout replaced by None, or closed
        pass
    return True


def _broken_pipe() -> int:
    """Point descriptor 1 at ``os.devnull`` (the buffered rest has nowhere to go); 141."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError, AttributeError):  # stdout replaced or already closed
        pass
    return BROKEN_PIPE_EXIT
