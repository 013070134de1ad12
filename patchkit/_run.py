"""Run a script or module exactly as ``python`` would, for ``python -m patchkit`` and the auditor.

``python script.py args`` sets ``sys.argv = ["script.py", *args]``, puts the script's
folder first on ``sys.path`` and runs it as ``__main__``; ``python -m mod args`` puts
the current directory first and sets ``sys.argv[0]`` to the module's file. The target
is located *without importing it* (importing before patching is the bug patchkit
exists to prevent).
"""

from __future__ import annotations

import importlib.machinery
import os
import runpy
import signal
import sys
import types
from dataclasses import dataclass, field
from typing import Literal, NoReturn

from ._errors import PatchkitError

__all__ = ["Target", "TargetError", "parse_target", "run_target", "die_like_python"]


class TargetError(PatchkitError):
    """The program to run cannot be found; the message says what was tried."""


@dataclass(frozen=True)
class Target:
    """What to run: a script path (file, folder or zip with ``__main__.py``) or a module."""

    kind: Literal["path", "module"]
    value: str
    args: list[str] = field(default_factory=list)

    @property
    def display(self) -> str:
        return f"-m {self.value}" if self.kind == "module" else self.value


def _module_exists(name: str, search_path: list[str]) -> bool:
    """Whether the top-level package of *name* can be found, without importing anything."""
    top = name.partition(".")[0]
    if top in sys.modules or top in sys.builtin_module_names:
        return True
    return importlib.machinery.PathFinder.find_spec(top, search_path) is not None


def parse_target(argv: list[str]) -> Target:
    """Turn ``["script.py", *args]``, ``["-m", "mod", *args]`` or ``["mod", *args]`` into a Target.

    A bare name is a module only when no file of that name exists.

    Raises:
        TargetError: nothing to run, or neither a file nor an importable module of that name.
    """
    if not argv:
        raise TargetError("no program given: pass a script path, `-m module`, or a module name")
    if argv[0] == "-m":
        if len(argv) < 2:
            raise TargetError("-m needs a module name, e.g. `-m http.server`")
        return _module_target(argv[1], argv[2:], explicit=True)
    first, args = argv[0], argv[1:]
    if os.path.exists(first):
        if _is_folder_or_zip(first) and not _has_main(first):
            raise TargetError(f"can't find '__main__' module in {first!r}")
        return Target("path", first, args)
    if first.endswith(".py") or os.sep in first or not all(
            part.isidentifier() for part in first.split(".")):
        raise TargetError(f"can't open file {first!r}: no such file or directory")
    return _module_target(first, args, explicit=False)


def _module_target(name: str, args: list[str], explicit: bool) -> Target:
    if not all(part.isidentifier() for part in name.split(".")):
        raise TargetError(f"{name!r} is not a module name")
    if not _module_exists(name, [os.getcwd(), *sys.path[1:]]):
        what = "" if explicit else f"no file named {name!r} and "
        raise TargetError(f"{what}no module named {name.partition('.')[0]!r} "
                          "(is it installed in this Python, or is the current folder wrong?)")
    return Target("module", name, args)


def run_target(target: Target) -> int:
    """Run *target* as ``__main__`` in this process and return its exit code.

    The target's uncaught exception is printed by ``sys.excepthook`` as python would
    (without patchkit's frames) and gives exit code 1; ``SystemExit`` gives its code.
    ``KeyboardInterrupt`` propagates so the caller can finish up and then call
    :func:`die_like_python`.
    """
    try:
        if target.kind == "path":
            sys.argv = [target.value, *target.args]
            if _is_folder_or_zip(target.value):
                del sys.path[0]  # run_path puts the folder or zip itself first
            else:
                sys.path[0] = os.path.dirname(os.path.realpath(target.value))
            runpy.run_path(target.value, run_name="__main__")
        else:
            sys.argv = [target.value, *target.args]
            sys.path[0] = os.getcwd()
            runpy.run_module(target.value, run_name="__main__", alter_sys=True)
    except SystemExit as exc:
        return exit_code(exc)
    except KeyboardInterrupt:
        raise
    except BaseException as exc:  # the target's own error: print it as python would
        _print_exception(exc)
        return 1
    return 0


def _has_main(path: str) -> bool:
    """Whether the folder or zip at *path* has the ``__main__`` python would run."""
    import zipfile

    names = ("__main__.py", "__main__.pyc")
    if os.path.isdir(path):
        return any(os.path.isfile(os.path.join(path, name)) for name in names)
    try:
        with zipfile.ZipFile(path) as archive:
            return any(name in archive.namelist() for name in names)
    except (OSError, zipfile.BadZipFile):
        return False


def _is_folder_or_zip(path: str) -> bool:
    import zipfile

    return os.path.isdir(path) or (not path.endswith((".py", ".pyw"))
                                   and zipfile.is_zipfile(path))


def exit_code(exc: SystemExit) -> int:
    """The process exit status python derives from a SystemExit (printing a non-int code)."""
    code = exc.code
    if code is None:
        return 0
    if isinstance(code, int):
        return code & 0xFF if code >= 0 else code
    print(code, file=sys.stderr)
    return 1


_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__)) + os.sep
_RUNPY_FILES = (os.path.abspath(runpy.__file__), "<frozen runpy>")


def _without_our_frames(tb: types.TracebackType | None) -> types.TracebackType | None:
    """Drop the leading frames of patchkit and runpy, which python's own run would not show."""
    while tb is not None:
        filename = tb.tb_frame.f_code.co_filename
        if not (filename.startswith(_PACKAGE_DIR) or filename in _RUNPY_FILES):
            break
        tb = tb.tb_next
    return tb


def _print_exception(exc: BaseException) -> None:
    # The default hook prints exc.__traceback__ whatever tb it is given, so trim in place.
    exc.__traceback__ = _without_our_frames(exc.__traceback__)
    sys.excepthook(type(exc), exc, exc.__traceback__)


def die_like_python(exc: KeyboardInterrupt) -> NoReturn:
    """Print the interrupt's traceback and end the process by SIGINT, as python does."""
    _print_exception(exc)
    sys.stdout.flush()
    sys.stderr.flush()
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    os.kill(os.getpid(), signal.SIGINT)
    raise SystemExit(130)
