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
import os
import sys
import time
from importlib import metadata

from rich.console import Console

from patchkit.audit.atomic import write_atomic

from ._runner import RunOptions, run_all
from .known import divergences, load_known
from .model import COLUMNS, ColumnRun, Report, counts, to_json
from .render import render_markdown, render_rich
from .suites import DEFAULT_MODULES, DEFAULT_RESOURCES, QUICK

__all__ = ["main", "patchkit_worse", "write_atomic"]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m patchkit.conformance",
                                     description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("modules", nargs="*", metavar="MODULE",
                        help=f"test modules (default: {' '.join(DEFAULT_MODULES)})")
    parser.add_argument("--quick", action="store_true",
                        help="the CI subset (a few fast modules and test classes)")
    parser.add_argument("--json", metavar="PATH", help="write the report as JSON ('-': stdout)")
    parser.add_argument("--markdown", metavar="PATH", help="write the tables as Markdown")
    parser.add_argument("--jobs", "-j", type=int, default=os.cpu_count() or 1,
                        help="subprocesses at a time (default: the number of cores)")
    parser.add_argument("--timeout", type=float, default=None,
                        help="seconds before a test counts as hung (default 30, quick 10)")
    parser.add_argument("--use", "-u", default=",".join(DEFAULT_RESOURCES),
                        help="regrtest resources to enable, comma-separated "
                             "(network stays off unless named)")
    parser.add_argument("--threadpool-idle", type=float, metavar="SECONDS",
                        help="gevent's threadpool idle timeout in the patched children "
                             "(default: gevent's 5 s; test_socket waits that long after "
                             "each test for the DNS worker thread to exit)")
    parser.add_argument("--column", action="append", choices=COLUMNS,
                        help="run only these columns (repeatable; default all three)")
    return parser


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


def main(argv: list[str] | None = None) -> int:
    """Run the harness; returns the process exit status."""
    args = _parser().parse_args(argv)
    modules, options = _options(args)
    columns = tuple(args.column) if args.column else COLUMNS
    # With --json - the JSON owns stdout; the terminal view goes to stderr.
    console = Console(stderr=args.json == "-")

    def progress(run: ColumnRun) -> None:
        cells = counts(run)
        console.print(f"  {run.module} {run.column}: {cells['run']} run, {cells['passed']} passed, "
                      f"{cells['hung']} hung, {cells['crashed']} crashed ({run.wall_time:.0f} s)")

    started = datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")
    t0 = time.monotonic()
    runs = run_all(modules, options, args.jobs, columns, progress)
    report = Report(python=sys.version.split()[0], gevent=_version("gevent"),
                    patchkit=_version("patchkit"), started=started,
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
