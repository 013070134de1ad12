"""``python -m patchkit.conformance [MODULE ...]``: CPython's regression tests, three ways.

Runs each module's tests unpatched, under ``gevent.monkey.patch_all()`` and under
``patchkit.patch_all()``, prints the matrix and the tests whose outcome differs from
unpatched, and optionally writes the report as JSON (``--json PATH`` or ``-``) and as
Markdown (``--markdown PATH``). Exits 0 when patchkit's column is nowhere worse than
gevent's, 1 otherwise.
"""

from __future__ import annotations

import argparse
import datetime
import importlib.util
import os
import sys
import time
from importlib import metadata
from typing import NoReturn

from rich.console import Console

from patchkit import __version__
from patchkit._atomic import check_writable, write_atomic
from patchkit._cli import VersionAction, quiet_broken_pipe, report_width, seconds, usage_error

from ._runner import RunOptions, run_all
from .known import divergences, load_known
from .model import COLUMNS, ColumnRun, Report, counts, to_json
from .render import render_markdown, render_rich
from .suites import DEFAULT_MODULES, DEFAULT_RESOURCES, QUICK

__all__ = ["main", "patchkit_worse", "write_atomic"]


PROG = "python -m patchkit.conformance"
_DESCRIPTION = ("Run CPython's regression tests for the patched modules unpatched, under "
                "gevent.monkey.patch_all() and under patchkit.patch_all(); print the matrix "
                "and the tests whose outcome differs from unpatched. Exit status 0 when "
                "patchkit's column is nowhere worse than gevent's, 1 otherwise, 2 for bad usage.")


class _UsageError(Exception):
    """A bad command line; the message is one line for the user."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise _UsageError(message)


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog=PROG, description=_DESCRIPTION)
    parser.add_argument("modules", nargs="*", metavar="MODULE",
                        help=f"test modules (default: {' '.join(DEFAULT_MODULES)})")
    parser.add_argument("--quick", action="store_true",
                        help="the CI subset (a few fast modules and test classes)")
    parser.add_argument("--json", metavar="PATH", help="write the report as JSON ('-': stdout)")
    parser.add_argument("--markdown", metavar="PATH", help="write the tables as Markdown")
    parser.add_argument("--jobs", "-j", type=int, default=os.cpu_count() or 1,
                        help="subprocesses at a time (default: the number of cores)")
    parser.add_argument("--timeout", type=seconds(0.001), default=None,
                        help="seconds before a test counts as hung (default 30, quick 10)")
    parser.add_argument("--use", "-u", default=",".join(DEFAULT_RESOURCES),
                        help="regrtest resources to enable, comma-separated "
                             "(network stays off unless named)")
    parser.add_argument("--threadpool-idle", type=seconds(0.0, zero_ok=True),
                        metavar="SECONDS",
                        help="gevent's threadpool idle timeout in the patched children "
                             "(default: gevent's 5 s; test_socket waits that long after "
                             "each test for the DNS worker thread to exit)")
    parser.add_argument("--column", action="append", choices=COLUMNS,
                        help="run only these columns (repeatable; default all three)")
    parser.add_argument("--version", action=VersionAction)
    return parser


def _missing_module(name: str) -> str | None:
    """Why test module *name* cannot be run here, or None (found without importing it)."""
    full = name if "." in name else f"test.{name}"
    try:
        found = importlib.util.find_spec(full) is not None
    except (ImportError, ValueError):
        found = False
    if found:
        return None
    if "." not in name and importlib.util.find_spec("test") is None:
        return (f"no test module {name!r}: this Python has no CPython test package "
                "(Debian and Ubuntu ship it as libpython3.X-testsuite)")
    return (f"no test module {name!r} in this Python ({full} not found); "
            f"the defaults are {' '.join(DEFAULT_MODULES)}")


def _check(args: argparse.Namespace) -> None:
    """Refuse what would fail or run nothing, before any test runs.

    Raises:
        _UsageError: naming the bad module, value or path.
    """
    for name in args.modules:
        problem = _missing_module(name)
        if problem is not None:
            raise _UsageError(problem)
    if not 1 <= args.jobs <= 1024:
        raise _UsageError(f"--jobs {args.jobs}: must be from 1 to 1024")
    for option, path in (("--json", args.json), ("--markdown", args.markdown)):
        if path is not None and path != "-":
            problem = check_writable(option, path)
            if problem is not None:
                raise _UsageError(problem)
    if args.markdown == "-":
        raise _UsageError("--markdown needs a file path (- is only for --json)")


def _options(args: argparse.Namespace) -> tuple[list[str], RunOptions]:
    modules = args.modules or (list(QUICK.match) if args.quick else list(DEFAULT_MODULES))
    timeout = args.timeout or (QUICK.timeout if args.quick else 30.0)
    match = dict(QUICK.match) if args.quick else {}
    resources = tuple(r for r in args.use.split(",") if r)
    return modules, RunOptions(timeout=timeout, resources=resources, match=match,
                               threadpool_idle=args.threadpool_idle)


def _version(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "not installed"


def patchkit_worse(report: Report) -> list[str]:
    """Modules where patchkit's column has fewer passes or more hangs/crashes than gevent's."""
    worse = []
    for module in report.modules():
        mine, theirs = report.run_for(module, "patchkit"), report.run_for(module, "gevent")
        if mine is None or theirs is None:
            continue
        a, b = counts(mine), counts(theirs)
        if a["passed"] < b["passed"] or a["hung"] + a["crashed"] > b["hung"] + b["crashed"]:
            worse.append(module)
    return worse


def _emit(report: Report, args: argparse.Namespace, console: Console) -> None:
    if args.json == "-":
        sys.stdout.write(to_json(report) + "\n")
    elif args.json:
        write_atomic(args.json, to_json(report) + "\n")
    if args.markdown:
        write_atomic(args.markdown, render_markdown(report))
    render_rich(report, console)


@quiet_broken_pipe
def main(argv: list[str] | None = None) -> int:
    """Run the harness; returns the process exit status.

    0 when patchkit's column is nowhere worse than gevent's, 1 otherwise, 2 (naming the
    problem) for bad usage, 141 when the reader of its output goes away (``| head -1``).
    """
    parser = _parser()
    try:
        args = parser.parse_args(sys.argv[1:] if argv is None else argv)
        _check(args)
    except _UsageError as exc:
        return usage_error(parser.format_usage(), PROG, str(exc))
    modules, options = _options(args)
    columns = tuple(args.column) if args.column else COLUMNS
    # With --json - the JSON owns stdout; the terminal view goes to stderr.
    out = sys.stderr if args.json == "-" else sys.stdout
    console = Console(file=out, width=report_width(out))

    def progress(run: ColumnRun) -> None:
        cells = counts(run)
        console.print(f"  {run.module} {run.column}: {cells['run']} run, {cells['passed']} passed, "
                      f"{cells['hung']} hung, {cells['crashed']} crashed ({run.wall_time:.0f} s)")

    started = datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")
    t0 = time.monotonic()
    runs = run_all(modules, options, args.jobs, columns, progress)
    report = Report(python=sys.version.split()[0], gevent=_version("gevent"),
                    patchkit=__version__, started=started,
                    wall_time=round(time.monotonic() - t0, 1), jobs=args.jobs,
                    timeout=options.timeout, resources=list(options.resources),
                    quick=args.quick, threadpool_idle=options.threadpool_idle, runs=runs)
    report.divergences = divergences(report, load_known())
    _emit(report, args, console)
    worse = patchkit_worse(report)
    if worse:
        console.print(f"[bold red]patchkit's column is worse than gevent's in: {', '.join(worse)}")
    return 1 if worse else 0


if __name__ == "__main__":
    sys.exit(main())
