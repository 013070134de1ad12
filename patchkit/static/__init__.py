"""The native-extension scan: which installed C extensions can block the gevent hub.

Monkey-patching reaches Python code only. This reads the shared objects of installed
distributions (or of given paths) with pyelftools, lists those that import blocking
network, DNS, poll or sleep calls from libc or link a known blocking client library
(libpq, libmysqlclient, librdkafka, libzmq; bundled copies in ``<dist>.libs/`` too), and
says for each what patchkit's knowledge base knows and whether a patcher covers it.

    python -m patchkit.static                 # everything importable here
    python -m patchkit.static PATH ...        # a site-packages, a virtualenv, a folder, a .so
    python -m patchkit.static --json out.json # also write the report (- for stdout)

Nothing is imported or run from the scanned packages.
"""

from __future__ import annotations

import argparse
import sys
from typing import NoReturn

from .._cli import VersionAction, quiet_broken_pipe, usage_error
from .inventory import ScanPathError
from .model import SCHEMA, ScanReport, StaticFinding
from .scan import Scanner, scan

__all__ = ["main", "scan", "Scanner", "ScanReport", "StaticFinding", "ScanPathError", "SCHEMA"]

PROG = "python -m patchkit.static"


class _UsageError(Exception):
    pass


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise _UsageError(message)


def _parser(prog: str) -> argparse.ArgumentParser:
    parser = _Parser(prog=prog, description="List installed C extensions that can block the "
                     "gevent hub, with what to do about each.")
    parser.add_argument("paths", nargs="*", metavar="PATH",
                        help="a site-packages, virtualenv, folder or shared object "
                             "(default: the distributions importable here)")
    parser.add_argument("--json", metavar="PATH", help="write the JSON report here (- for stdout)")
    parser.add_argument("-v", "--verbose", action="store_true",
                        help="list each flagged shared object and its blocking calls")
    parser.add_argument("--strict", action="store_true",
                        help="exit 1 when something blocks or is unknown (for CI)")
    parser.add_argument("--version", action=VersionAction)
    return parser


def _check_json_path(path: str) -> None:
    if path == "-":
        return
    from .._atomic import check_writable

    problem = check_writable("--json", path)
    if problem is not None:
        raise _UsageError(problem)


@quiet_broken_pipe
def main(argv: list[str] | None = None, prog: str = PROG) -> int:
    """Run the scan from a command line; returns the exit status.

    Args:
        argv: Arguments after the program name:
            ``[PATH ...] [--json PATH|-] [-v] [--strict]``.
        prog: Program name used in messages (``python -m patchkit.audit --static``).

    Returns:
        0; 1 with ``--strict`` when something blocks or is unknown; 2 for bad usage or a
        path that cannot be scanned (a ``usage:`` line and one error line on stderr, no
        traceback); 141 when the reader of its output goes away (``| head -1``).
    """
    from .render import make_console, render, write_json

    parser = _parser(prog)
    try:
        options = parser.parse_args(sys.argv[1:] if argv is None else argv)
        if options.json is not None:
            _check_json_path(options.json)
        report = scan(options.paths or None)
    except (_UsageError, ScanPathError) as exc:
        return usage_error(parser.format_usage(), prog, str(exc))
    to_stdout = options.json == "-"
    render(report, make_console(sys.stderr if to_stdout else sys.stdout), options.verbose)
    if options.json is not None:
        try:
            write_json(report, options.json)
        except OSError as exc:
            print(f"{prog}: cannot write {options.json}: {exc}", file=sys.stderr)
            return 1
    if options.strict and any(f.verdict in ("blocks", "unknown") for f in report.findings):
        return 1
    return 0
