"""The start-up hook's first step: read and check ``PATCHKIT_AUDIT_FOLLOW`` cheaply.

``patchkit_follow.pth`` runs in every interpreter of an environment where patchkit is
installed. With the variable unset that costs one environment lookup; set, this module
checks it -- standard library only, before the follower and gevent are imported -- and
hands a valid value on to :func:`patchkit.audit.follow.startup`. A value that is not the
audit's is ignored without a word (the child's output is its own):

- not JSON, or a field of the wrong type or out of range (``flush_interval: 0`` would
  spin a CPU in every child, ``threshold: nan`` fails in its helper threads);
- a folder the audit did not make: it must be absolute, a real folder (no symlink), this
  user's, private (no group or other access, as ``tempfile.mkdtemp`` makes it) and named
  ``patchkit-audit-<pid>-...``. The follower writes and deletes ``<pid>.json`` there, so
  a variable naming some other folder must not make every Python process write into it;
- an isolated interpreter (``python -I``), which asks to ignore its environment.

Trust: whoever can set a process's environment can already make it run code (it could
set ``PYTHONSTARTUP`` or ``PYTHONPATH``); the checks keep a stray or stale value from
doing harm, they are not a boundary against the process's own user.
"""

from __future__ import annotations

import math
import os
import stat
import sys

__all__ = ["FOLLOW_ENV", "FOLDER_PREFIX", "FollowError", "parse", "startup"]

FOLLOW_ENV = "PATCHKIT_AUDIT_FOLLOW"
FOLDER_PREFIX = "patchkit-audit-"  # then the main process's pid, "-", random characters
_RANGES = {"threshold": (0.0001, 3600.0), "flush_interval": (0.01, 3600.0)}


class FollowError(ValueError):
    """The variable's value is not the audit's; the message says why."""


def _number(data: dict[str, object], name: str, default: float | None) -> float:
    value = data.get(name, default)
    low, high = _RANGES[name]
    if isinstance(value, bool) or not isinstance(value, (int, float)) \
            or not math.isfinite(value) or not low <= value <= high:
        raise FollowError(f"{name}: {value!r} is not a number from {low:g} to {high:g}")
    return float(value)


def _names(data: dict[str, object], name: str) -> tuple[str, ...]:
    value = data.get(name, [])
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise FollowError(f"{name}: {value!r} is not a list of names")
    return tuple(value)


def _check_folder(folder: object) -> str:
    if not isinstance(folder, str) or not os.path.isabs(folder):
        raise FollowError(f"folder: {folder!r} is not an absolute path")
    if not os.path.basename(folder).startswith(FOLDER_PREFIX):
        raise FollowError(f"folder: {folder!r} is not an audit's folder")
    try:
        info = os.lstat(folder)
    except OSError as exc:
        raise FollowError(f"folder: {folder!r}: {exc.strerror}") from None
    if not stat.S_ISDIR(info.st_mode):
        raise FollowError(f"folder: {folder!r} is not a folder (or is a symlink)")
    if info.st_uid != os.getuid() or info.st_mode & 0o077:
        raise FollowError(f"folder: {folder!r} is not this user's private folder")
    return folder


def parse(text: str) -> dict[str, object]:
    """The checked settings in *text*: ``folder``, ``threshold``, ``include``, ``exclude``,
    ``flush_interval``, ``exact``.

    Raises:
        FollowError: it is not the audit's (the message names the field).
    """
    import json

    try:
        data = json.loads(text, parse_constant=lambda name: math.nan)
    except (ValueError, RecursionError):
        raise FollowError("not JSON") from None
    if not isinstance(data, dict):
        raise FollowError("not a JSON object")
    exact = data.get("exact", False)
    if not isinstance(exact, bool):
        raise FollowError(f"exact: {exact!r} is not true or false")
    return {"folder": _check_folder(data.get("folder")),
            "threshold": _number(data, "threshold", None),
            "include": _names(data, "include"), "exclude": _names(data, "exclude"),
            "flush_interval": _number(data, "flush_interval", 2.0), "exact": exact}


def startup() -> None:
    """The ``.pth`` hook's entry: audit this interpreter when the variable is the audit's.

    Never raises and never prints: a child must start whether or not it can be audited.
    """
    text = os.environ.get(FOLLOW_ENV)
    if not text or sys.flags.isolated:
        return
    try:
        settings = parse(text)
    except FollowError:
        return
    try:
        from patchkit.audit.follow import FollowSettings, startup as follow

        follow(FollowSettings(**settings))  # type: ignore[arg-type]
    except Exception:
        pass
