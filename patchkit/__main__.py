"""``python -m patchkit [--no-NAME ...] [--only NAME ...] script.py [args]`` or ``... -m module``.

Patches the process, then runs the program exactly as ``python`` would.
"""

from __future__ import annotations

import os
import sys
from typing import Sequence

USAGE = """\
usage: {prog} [options] (script.py | -m module | module) [args ...]

Patch the standard library through gevent, then run the program as python would:
its arguments, sys.path[0], __main__, exit status and tracebacks are python's.

options (before the program; everything after it is the program's):
  --no-NAME      do not apply patcher NAME (e.g. --no-ssl); repeatable
  --only NAME    apply only the named patcher(s); repeatable; not with --no-NAME
  --list         list the registered patchers and exit
  --version      print patchkit's version and exit
  -h, --help     show this help and exit
"""

_ALONE = ("-h", "--help", "--list", "--version")


class _UsageError(Exception):
    """Bad command line; the message is one line for the user."""


def _prog() -> str:
    """``patchkit`` when run as the installed script, else ``python -m patchkit``."""
    name = os.path.basename(sys.argv[0]) if sys.argv and sys.argv[0] else ""
    return name if name and name not in ("__main__.py", "-c", "-m") else "python -m patchkit"


def _list_patchers() -> int:
    from ._core import registry

    for spec in registry().ordered():
        default = "" if spec.default else " (off by default)"
        if spec.on_import:
            default += f" (applied when {spec.on_import} is imported)"
        print(f"{spec.name:<12} {spec.description}{default}")
    return 0


def _parse(argv: Sequence[str]) -> tuple[dict[str, bool], list[str], list[str]]:
    """Split patchkit's options from the program; returns (flags, only, program argv).

    Raises:
        _UsageError: an unknown or incomplete option, or --only with --no-NAME.
        UnknownPatcherError: a patcher name that is not registered.
    """
    from ._core import registry

    flags: dict[str, bool] = {}
    only: list[str] = []
    rest = list(argv)
    while rest and rest[0].startswith("-") and rest[0] != "-m":
        option = rest.pop(0)
        if option == "--only":
            if not rest or rest[0].startswith("-"):
                raise _UsageError("--only needs a patcher name, e.g. --only time")
            only.append(registry().resolve(rest.pop(0)).name)
        elif option.startswith("--only="):
            only.append(registry().resolve(option.partition("=")[2]).name)
        elif option.startswith("--no-") and len(option) > 5:
            flags[registry().resolve(option[5:]).name] = False
        elif option == "--":
            break
        elif option in _ALONE:
            raise _UsageError(f"{option} takes no other arguments")
        else:
            raise _UsageError(f"unknown option {option!r} (patchkit's options go before "
                              "the program)")
    if only and flags:
        no = " ".join(f"--no-{name}" for name in flags)
        raise _UsageError(f"--only and {no} contradict each other: --only applies just the "
                          "patchers it names, so leave out the --no- options")
    return flags, only, rest


def _alone(args: list[str], prog: str) -> int | None:
    """Answer --help, --list and --version; None when the command line is something else."""
    if not args or args[0] not in _ALONE:
        return None
    if len(args) > 1:
        raise _UsageError(f"{args[0]} takes no other arguments (got {' '.join(args[1:])!r})")
    if args[0] == "--version":
        from ._cli import version_text

        print(version_text(prog))
        return 0
    if args[0] == "--list":
        return _list_patchers()
    print(USAGE.format(prog=prog), end="")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``python -m patchkit`` (or the ``patchkit`` script); returns the exit status.

    Args:
        argv: The arguments after the program name (default: ``sys.argv[1:]``).

    Returns:
        The program's exit status; 2 (a ``usage:`` line and one error line on stderr,
        nothing run) for bad usage, an unknown patcher, or a program that cannot be found.
    """
    from ._cli import usage_error
    from ._errors import PatchkitError
    from ._run import TargetError, die_like_python, parse_target, run_target

    prog = _prog()
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        answered = _alone(args, prog)
        if answered is not None:
            return answered
        flags, only, program = _parse(args)
        target = parse_target(program)
    except (_UsageError, PatchkitError) as exc:
        return usage_error(USAGE.format(prog=prog), prog, str(exc))

    import patchkit

    try:
        if only:
            patchkit.patch(*only)
        else:
            patchkit.patch_all(**flags)
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
