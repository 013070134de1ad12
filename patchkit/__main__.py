"""``python -m patchkit [--no-NAME ...] [--only NAME ...] script.py [args]`` or ``... -m module``.

Patches the process, then runs the program exactly as ``python`` would.
"""

from __future__ import annotations

import sys
from typing import Sequence

USAGE = """\
usage: python -m patchkit [options] (script.py | -m module | module) [args ...]

Patch the standard library through gevent, then run the program as `python` would.

options:
  --no-NAME      do not apply patcher NAME (e.g. --no-ssl); repeatable
  --only NAME    apply only the named patcher(s); repeatable
  --list         list the registered patchers and exit
  -h, --help     show this help and exit
"""


def _fail(message: str) -> int:
    print(f"patchkit: error: {message}", file=sys.stderr)
    print("run `python -m patchkit --help` for usage", file=sys.stderr)
    return 2


def _list_patchers() -> int:
    from ._core import registry

    for spec in registry().ordered():
        default = "" if spec.default else " (off by default)"
        if spec.on_import:
            default += f" (applied when {spec.on_import} is imported)"
        print(f"{spec.name:<12} {spec.description}{default}")
    return 0


def _parse(argv: Sequence[str]) -> tuple[dict[str, bool], list[str], list[str]]:
    """Split patchkit's options from the program; returns (flags, only, program argv)."""
    from ._core import registry

    flags: dict[str, bool] = {}
    only: list[str] = []
    rest = list(argv)
    while rest and rest[0].startswith("-") and rest[0] != "-m":
        option = rest.pop(0)
        if option == "--only" and rest:
            only.append(registry().resolve(rest.pop(0)).name)
        elif option.startswith("--no-"):
            flags[registry().resolve(option[5:]).name] = False
        elif option == "--":
            break
        else:
            raise ValueError(f"unknown option {option!r}")
    return flags, only, rest


def main(argv: Sequence[str] | None = None) -> int:
    from ._errors import PatchkitError
    from ._run import TargetError, die_like_python, parse_target, run_target

    args = list(sys.argv[1:] if argv is None else argv)
    if args[:1] in (["-h"], ["--help"]):
        print(USAGE, end="")
        return 0
    if args[:1] == ["--list"]:
        return _list_patchers()
    try:
        flags, only, program = _parse(args)
        target = parse_target(program)
    except (ValueError, PatchkitError) as exc:
        return _fail(str(exc))

    import patchkit

    try:
        if only:
            patchkit.patch(*only)
        else:
            patchkit.patch_all(**flags)
    except PatchkitError as exc:
        return _fail(str(exc))
    try:
        return run_target(target)
    except KeyboardInterrupt as exc:
        die_like_python(exc)
    except TargetError as exc:
        return _fail(str(exc))


if __name__ == "__main__":
    sys.exit(main())
