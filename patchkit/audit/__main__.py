"""``python -m patchkit.audit [options] TARGET [args...]``: argument parsing only.

Options come before TARGET (a script, ``-m module``, or a bare module name); every
argument from TARGET on belongs to the target. Bad input is a ``usage:`` line and
one error line on stderr and exit status 2, before the target runs.
"""

from __future__ import annotations

import argparse
import os
import stat
import sys
from typing import Any, NoReturn

from patchkit._cli import VersionAction, quiet_broken_pipe, seconds, usage_error
from patchkit._run import TargetError, parse_target

from patchkit._early import EarlyStops, take
from patchkit._redact import KEEP_ENV

from .config import (DEFAULT_FLUSH, DEFAULT_GRACE, DEFAULT_THRESHOLD, STUCK_EXIT_CODE, AuditConfig,
                     ConfigError, RenderConfig, check_report_path)

PROG = "python -m patchkit.audit"

# Options and how many values each takes; used to find where the target starts.
_ARITY = {"--threshold": 1, "--json": 1, "--duration": 1, "--include": 1, "--exclude": 1,
          "--html": 1, "--sarif": 1, "--render": 1,
          "--grace": 1, "--flush": 1, "--strict": 0, "--patch": 0, "--no-follow": 0,
          "--exact": 0, "--keep-argv": 0, "--quiet": 0, "-q": 0, "-h": 0, "--help": 0, "--version": 0}


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise ConfigError(message)


class _Once(argparse.Action):
    """A report option given twice is an error: the first report would be silently lost."""

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace,
                 values: Any, option_string: str | None = None) -> None:
        if getattr(namespace, self.dest) is not None:
            parser.error(f"{option_string} given twice ({getattr(namespace, self.dest)!r} and "
                         f"{values!r}): one report per format; --render merges several")
        setattr(namespace, self.dest, values)


def _check_outputs(outputs: dict[str, str | None], inputs: list[str], role: str) -> None:
    """Refuse an output that is also an input (the script, a --render report) or another
    output: the report would replace the program, or one report the other.

    Raises:
        ConfigError: naming the two options.
    """
    seen: dict[str, str] = {}
    for what in inputs:
        seen.setdefault(_identity(what), f"{role} {what}")
    for option, path in outputs.items():
        if path is None or path == "-":
            continue
        try:
            if not stat.S_ISREG(os.stat(path).st_mode):
                continue  # a device or FIFO (/dev/null for every format) is written in place
        except OSError:
            pass
        key = _identity(path)
        if key in seen:
            raise ConfigError(f"{option} {path}: that is also {seen[key]}; writing the report "
                              "there would replace it: name another file")
        seen[key] = option


def _identity(path: str) -> str:
    """The same for two names of one file (symlinks, hard links, relative paths)."""
    try:
        info = os.stat(path)
        return f"{info.st_dev}:{info.st_ino}"
    except OSError:
        return os.path.realpath(path)


def _names(text: str) -> list[str]:
    return [name.strip() for name in text.split(",") if name.strip()]


def build_parser(render_many: bool = False) -> argparse.ArgumentParser:
    """The option parser (options only; the target is split off before it runs).

    Args:
        render_many: ``--render`` takes one or more reports (nothing is run).
    """
    parser = _Parser(prog=PROG, usage=f"{PROG} [options] (script.py | -m module | module) [args...]",
                     description="Run a program and report everything that still blocks "
                                 "the gevent hub.")
    parser.add_argument("--threshold", type=seconds(0.0001, 3600.0), default=DEFAULT_THRESHOLD,
                        metavar="SECONDS", help="minimum hub block reported (default: "
                        f"{DEFAULT_THRESHOLD:g})")
    parser.add_argument("--json", metavar="PATH", action=_Once,
                        help="write the JSON report here (- for stdout)")
    parser.add_argument("--duration", type=seconds(0.0001), metavar="SECONDS",
                        help="stop the target after this long and report (for servers)")
    parser.add_argument("--strict", action="store_true",
                        help="exit non-zero when anything was found (for CI)")
    parser.add_argument("--include", type=_names, action="extend", default=[], metavar="PKGS",
                        help="report only these packages (comma-separated; 'app' = your code)")
    parser.add_argument("--exclude", type=_names, action="extend", default=[], metavar="PKGS",
                        help="leave these packages out (comma-separated; 'app' = your code)")
    parser.add_argument("--patch", action="store_true",
                        help="call patchkit.patch_all() before running the target")
    parser.add_argument("--no-follow", action="store_true",
                        help="do not audit the Python programs it starts (forked children "
                        "are always audited)")
    parser.add_argument("--exact", action="store_true",
                        help="time every greenlet switch (exact durations when greenlets "
                        "share a loop turn; costs more per switch) instead of each loop turn")
    parser.add_argument("--keep-argv", action="store_true",
                        help="keep command lines whole in the report (by default the values "
                        "of arguments that look secret -- --password, TOKEN=, a URL's "
                        "password -- are redacted)")
    parser.add_argument("--grace", type=seconds(0.01, 3600.0), default=DEFAULT_GRACE,
                        metavar="SECONDS",
                        help="after SIGTERM, SIGINT or --duration, how long the program has "
                        f"to stop before the report is written and it is ended (default: "
                        f"{DEFAULT_GRACE:g}; exit status {STUCK_EXIT_CODE})")
    parser.add_argument("--flush", type=seconds(0.01, 3600.0), default=DEFAULT_FLUSH,
                        metavar="SECONDS",
                        help="how often each process saves its findings so far; a process "
                        f"killed outright loses at most this much (default: {DEFAULT_FLUSH:g})")
    parser.add_argument("--html", metavar="PATH", action=_Once,
                        help="write a self-contained HTML report (timeline, table, profile)")
    parser.add_argument("--sarif", metavar="PATH", action=_Once,
                        help="write a SARIF 2.1.0 log for code scanning")
    parser.add_argument("--render", metavar="REPORT_JSON", nargs="+" if render_many else None,
                        help="run nothing: re-render a saved --json report (with --html/--sarif);"
                        " several reports (--render a.json b.json) are merged into one")
    parser.add_argument("-q", "--quiet", action="store_true", help="no terminal report")
    parser.add_argument("--version", action=VersionAction)
    return parser


def split_argv(argv: list[str]) -> tuple[list[str], list[str]]:
    """``(options, target_argv)``: the target starts at the first non-option or ``-m``."""
    index = 0
    while index < len(argv):
        arg = argv[index]
        if arg == "--":
            return argv[:index], argv[index + 1:]
        if arg == "-m" or not arg.startswith("-") or arg == "-":
            break
        name = arg.partition("=")[0]
        if name not in _ARITY:
            raise ConfigError(f"unrecognized option {arg!r} (options go before the target)")
        index += 1 if "=" in arg else 1 + _ARITY[name]
    return argv[:index], argv[index:]


def _output(path: str | None, option: str) -> str | None:
    if path is None:
        return None
    if path == "-":
        raise ConfigError(f"{option} needs a file path (- is only for --json)")
    check_report_path(path, option)
    return os.path.abspath(path)  # the target may chdir; the file goes where the user said


def _render(namespace: argparse.Namespace, more: list[str]) -> RenderConfig:
    first = namespace.render if isinstance(namespace.render, list) else [namespace.render]
    sources = (*first, *more)
    for source in sources:
        if not os.path.isfile(source):
            raise ConfigError(f"--render {source}: no such file (--render runs nothing: "
                              "give it saved --json reports only)")
    if namespace.json == "-":
        raise ConfigError("--render writes --json to a file only: give it a path, e.g. "
                          "--json all.json (--json - is for a live audit)")
    json_path = _output(namespace.json, "--json") if namespace.json is not None else None
    _check_outputs({"--json": json_path, "--html": namespace.html, "--sarif": namespace.sarif},
                   list(sources), "the --render input")
    return RenderConfig(sources, _output(namespace.html, "--html"),
                        _output(namespace.sarif, "--sarif"), os.getcwd(), namespace.quiet,
                        json_path, namespace.keep_argv)


def parse(argv: list[str]) -> AuditConfig | RenderConfig:
    """Parse and validate the command line into an AuditConfig (a RenderConfig for --render).

    Raises:
        ConfigError: with a one-line message for the user.
    """
    if "--render" in argv:  # runs nothing: every argument is an option or a report
        namespace, extra = build_parser(render_many=True).parse_known_args(argv)
        if extra:
            raise ConfigError(f"--render runs nothing: drop the target ({' '.join(extra)})")
        return _render(namespace, [])
    options, target_argv = split_argv(argv)
    parser = build_parser()
    namespace = parser.parse_args(options)
    if namespace.render is not None:
        return _render(namespace, target_argv)
    try:
        target = parse_target(target_argv)
    except TargetError as exc:
        raise ConfigError(str(exc)) from None
    json_path = namespace.json
    _check_outputs({"--json": json_path, "--html": namespace.html, "--sarif": namespace.sarif},
                   [target.value] if target.kind == "path" else [], "the program to audit,")
    if json_path is not None:
        check_report_path(json_path)
        if json_path != "-":  # the target may chdir; the report goes where the user said
            json_path = os.path.abspath(json_path)
    return AuditConfig(target=target, threshold=namespace.threshold, json_path=json_path,
                       duration=namespace.duration, strict=namespace.strict,
                       include=tuple(namespace.include), exclude=tuple(namespace.exclude),
                       patch=namespace.patch, quiet=namespace.quiet,
                       html_path=_output(namespace.html, "--html"),
                       sarif_path=_output(namespace.sarif, "--sarif"), root=os.getcwd(),
                       follow=not namespace.no_follow, grace=namespace.grace,
                       flush_interval=namespace.flush, exact=namespace.exact,
                       keep_argv=namespace.keep_argv)


@quiet_broken_pipe
def main(argv: list[str] | None = None) -> int:
    """Entry point: parse, then hand over to the runner (or the static scan for --static).

    Returns the runner's exit status; 2 for bad usage; 141 when the reader of the output
    goes away (``| head -1``), quietly.
    """
    early = take() or EarlyStops()  # a stop while the audit sets up is noted, not lost
    args = sys.argv[1:] if argv is None else argv
    if args[:1] == ["--static"]:
        early.release()
        from patchkit.static import main as static_main

        return static_main(args[1:], prog=f"{PROG} --static")
    try:
        config = parse(args)
    except ConfigError as exc:
        early.release()
        return usage_error(build_parser().format_usage(), PROG, str(exc))
    if config.keep_argv:  # for this process and every child it starts
        os.environ[KEEP_ENV] = "1"
    if isinstance(config, RenderConfig):
        early.release()
        from .saved import render_saved

        return render_saved(config, PROG)
    if config.json_path == "-":
        from .._atomic import reserve_stdout

        try:
            reserve_stdout()
        except OSError as exc:  # descriptor 1 closed (`>&-`): nowhere to write the report
            early.release()
            return usage_error(build_parser().format_usage(), PROG,
                               f"--json -: standard output is not open ({exc.strerror}); "
                               "name a file instead")
    from .runner import run

    return run(config, early=early)


if __name__ == "__main__":
    sys.exit(main())
