"""``python -m patchkit.audit [options] TARGET [args...]``: argument parsing only.

Options come before TARGET (a script, ``-m module``, or a bare module name); every
argument from TARGET on belongs to the target. Bad input is one line on stderr
and exit status 2, before the target runs.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import NoReturn

from patchkit._run import TargetError, parse_target

from .config import (DEFAULT_GRACE, DEFAULT_THRESHOLD, STUCK_EXIT_CODE, AuditConfig,
                     ConfigError, RenderConfig, check_report_path)

PROG = "python -m patchkit.audit"

# Options and how many values each takes; used to find where the target starts.
_ARITY = {"--threshold": 1, "--json": 1, "--duration": 1, "--include": 1, "--exclude": 1,
          "--html": 1, "--sarif": 1, "--render": 1,
          "--grace": 1, "--strict": 0, "--patch": 0, "--no-follow": 0, "--quiet": 0, "-q": 0, "-h": 0, "--help": 0}


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise ConfigError(message)


def _positive(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"{text!r} must be more than 0 seconds")
    return value


def _names(text: str) -> list[str]:
    return [name.strip() for name in text.split(",") if name.strip()]


def build_parser() -> argparse.ArgumentParser:
    """The option parser (options only; the target is split off before it runs)."""
    parser = _Parser(prog=PROG, usage=f"{PROG} [options] (script.py | -m module | module) [args...]",
                     description="Run a program and report everything that still blocks "
                                 "the gevent hub.")
    parser.add_argument("--threshold", type=_positive, default=DEFAULT_THRESHOLD,
                        metavar="SECONDS", help="minimum hub block reported (default: "
                        f"{DEFAULT_THRESHOLD:g})")
    parser.add_argument("--json", metavar="PATH", help="write the JSON report here (- for stdout)")
    parser.add_argument("--duration", type=_positive, metavar="SECONDS",
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
    parser.add_argument("--grace", type=_positive, default=DEFAULT_GRACE, metavar="SECONDS",
                        help="after SIGTERM, SIGINT or --duration, how long the program has "
                        f"to stop before the report is written and it is ended (default: "
                        f"{DEFAULT_GRACE:g}; exit status {STUCK_EXIT_CODE})")
    parser.add_argument("--html", metavar="PATH",
                        help="write a self-contained HTML report (timeline, table, profile)")
    parser.add_argument("--sarif", metavar="PATH", help="write a SARIF 2.1.0 log for code scanning")
    parser.add_argument("--render", metavar="REPORT_JSON",
                        help="run nothing: re-render a saved --json report (with --html/--sarif)")
    parser.add_argument("-q", "--quiet", action="store_true", help="no terminal report")
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


def _render(namespace: argparse.Namespace, target_argv: list[str]) -> RenderConfig:
    if target_argv:
        raise ConfigError("--render runs nothing: drop the target")
    if namespace.json is not None:
        raise ConfigError("--render reads a JSON report; use --html/--sarif to write others")
    if not os.path.isfile(namespace.render):
        raise ConfigError(f"--render {namespace.render}: no such file")
    return RenderConfig(namespace.render, _output(namespace.html, "--html"),
                        _output(namespace.sarif, "--sarif"), os.getcwd(), namespace.quiet)


def parse(argv: list[str]) -> AuditConfig | RenderConfig:
    """Parse and validate the command line into an AuditConfig (a RenderConfig for --render).

    Raises:
        ConfigError: with a one-line message for the user.
    """
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
                       follow=not namespace.no_follow, grace=namespace.grace)


def main(argv: list[str] | None = None) -> int:
    """Entry point: parse, then hand over to the runner (or the static scan for --static)."""
    args = sys.argv[1:] if argv is None else argv
    if args[:1] == ["--static"]:
        from patchkit.static import main as static_main

        return static_main(args[1:], prog=f"{PROG} --static")
    try:
        config = parse(args)
    except ConfigError as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 2
    if isinstance(config, RenderConfig):
        from .saved import render_saved

        return render_saved(config, PROG)
    from .runner import run

    return run(config)


if __name__ == "__main__":
    sys.exit(main())
