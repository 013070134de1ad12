"""``python -m patchkit [--no-NAME ...] [--only NAME ...] script.py [args]`` or ``... -m module``.

Patches the process, then runs the program exactly as ``python`` would.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import NoReturn, Sequence

from ._cli import VersionAction, quiet_broken_pipe

_PROGRAM = "(script.py | -m module | module) [args ...]"
_DESCRIPTION = ("Patch the standard library through gevent, then run the program as python "
                "would: its arguments, sys.path[0], __main__, exit status and tracebacks are "
                "python's. patchkit's options go before the program; everything from the "
                "program on is the program's.")
_EPILOG = ("Exit status: the program's own; 2 (a usage line and one error line, nothing run) "
           "for bad usage, an unknown patcher or a program that cannot be found; 141 when "
           "the reader of --list, --help or --version goes away (| head -1).")

# These answer on their own: with anything else on the line they are a usage error.
_ALONE = ("-h", "--help", "--list", "--version")


class _UsageError(Exception):
    """Bad command line; the message is one line for the user."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise _UsageError(message)


def _prog() -> str:
    """``patchkit`` when run as the installed script, else ``python -m patchkit``."""
    name = os.path.basename(sys.argv[0]) if sys.argv and sys.argv[0] else ""
    return name if name and name not in ("__main__.py", "-c", "-m") else "python -m patchkit"


def build_parser(prog: str) -> argparse.ArgumentParser:
    """patchkit's option parser; one ``--no-NAME`` per registered patcher name and alias.

    It parses the options only: :func:`split_argv` cuts the program off first, since
    the program's own arguments may look like patchkit's options.
    """
    from ._core import registry

    parser = _Parser(prog=prog, usage=f"{prog} [options] {_PROGRAM}", description=_DESCRIPTION,
                     epilog=_EPILOG, allow_abbrev=False)
    parser.add_argument("program", nargs="*", metavar="script.py | -m module | module",
                        help="the program to run and its arguments, as after python")
    parser.add_argument("--only", action="append", default=[], metavar="NAME",
                        help="apply only the named patcher(s); repeatable; not with --no-NAME")
    parser.add_argument("--list", action="store_true",
                        help="list the registered patchers and exit")
    parser.add_argument("--version", action=VersionAction)
    group = parser.add_argument_group(
        "patchers", "Every default patcher is applied but those named here; --list describes "
        "each.")
    for spec in registry().ordered():
        names = [f"--no-{name}" for name in (spec.name, *spec.aliases)]
        group.add_argument(*names, dest="off", action="append_const", const=spec.name,
                           default=[], help=f"do not apply the {spec.name} patcher")
    return parser


def split_argv(argv: Sequence[str]) -> tuple[list[str], list[str]]:
    """``(options, program)``: the program starts at ``-m``, ``-`` or the first non-option.

    A ``--`` ends the options and is dropped (for a program whose name starts with ``-``).

    Raises:
        _UsageError: ``--only`` without a patcher name after it.
    """
    args = list(argv)
    index = 0
    while index < len(args):
        arg = args[index]
        if arg == "--":
            return args[:index], args[index + 1:]
        if arg == "-m" or arg == "-" or not arg.startswith("-"):
            break
        if arg == "--only":
            if index + 1 == len(args) or args[index + 1].startswith("-"):
                raise _UsageError("--only needs a patcher name, e.g. --only time")
            index += 1
        index += 1
    return args[:index], args[index:]


def _check_alone(options: list[str], program: list[str]) -> None:
    """--help, --list and --version with anything else on the line is a mistake, not a mix."""
    alone = [arg for arg in options if arg in _ALONE]
    if not alone or len(options) + len(program) == 1:
        return
    others = [arg for arg in options + program if arg != alone[0]]
    raise _UsageError(f"{alone[0]} takes no other arguments (got {' '.join(others)!r})")


def _parse(parser: argparse.ArgumentParser, argv: Sequence[str]) -> tuple[
        argparse.Namespace, list[str]]:
    """The options and the program's argv (--help and --version alone are answered before).

    Raises:
        _UsageError: an unknown option, --help/--list/--version with other arguments, or
            --only with --no-NAME.
        UnknownPatcherError: ``--no-NAME`` or ``--only NAME`` for a patcher not registered.
    """
    from ._core import registry

    options, program = split_argv(argv)
    _check_alone(options, program)
    namespace, unknown = parser.parse_known_args(options)
    for option in unknown:
        if option.startswith("--no-") and len(option) > 5:
            registry().resolve(option[5:])  # raises, naming the patchers there are
        raise _UsageError(f"unknown option {option!r} (patchkit's options go before the "
                          "program)")
    namespace.only = [registry().resolve(name).name for name in namespace.only]
    if namespace.only and namespace.off:
        no = " ".join(f"--no-{name}" for name in dict.fromkeys(namespace.off))
        raise _UsageError(f"--only and {no} contradict each other: --only applies just the "
                          "patchers it names, so leave out the --no- options")
    return namespace, program


@quiet_broken_pipe
def _list_patchers() -> int:
    from ._core import registry

    for spec in registry().ordered():
        default = "" if spec.default else " (off by default)"
        if spec.on_import:
            default += f" (applied when {spec.on_import} is imported)"
        print(f"{spec.name:<12} {spec.description}{default}")
    return 0


@quiet_broken_pipe
def _answer(parser: argparse.ArgumentParser, argv: Sequence[str]) -> int:
    """Print --help or --version (argparse's actions exit; here that is the status)."""
    try:
        parser.parse_args(argv)
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else 0
    return 0  # pragma: no cover - parse_args exits for --help and --version


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``python -m patchkit`` (or the ``patchkit`` script); returns the exit status.

    Args:
        argv: The arguments after the program name (default: ``sys.argv[1:]``).

    Returns:
        The program's exit status; 2 (a ``usage:`` line and one error line on stderr,
        nothing run) for bad usage, an unknown patcher, or a program that cannot be found;
        141 when the reader of ``--list``, ``--help`` or ``--version`` goes away (the
        program's own output is left to behave as under ``python``).
    """
    from ._cli import usage_error
    from ._errors import PatchkitError
    from ._run import TargetError, die_like_python, parse_target, run_target

    prog = _prog()
    args = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser(prog)
    try:
        if args in (["-h"], ["--help"], ["--version"]):
            return _answer(parser, args)
        options, program = _parse(parser, args)
        if options.list:
            return _list_patchers()
        target = parse_target(program)
    except (_UsageError, PatchkitError) as exc:
        return usage_error(parser.format_usage(), prog, str(exc))

    import patchkit

    try:
        if options.only:
            patchkit.patch(*options.only)
        else:
            patchkit.patch_all(**{name: False for name in options.off})
    except PatchkitError as exc:
        print(f"{prog}: error: {exc}", file=sys.stderr)
        return 2
    try:
        return run_target(target)
    except KeyboardInterrupt as exc:
        die_like_python(exc)
    except TargetError as exc:
        print(f"{prog}: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
