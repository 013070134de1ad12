"""Report files are written whole or not at all, and checked before the target runs.

Every report format (JSON, HTML, SARIF) goes through :func:`write_atomic`: a temporary
file in the destination folder, flushed and fsynced, then ``os.replace``d over the
destination, so a reader (a CI upload step, a browser reloading the page) never sees
half a report and an interrupted write leaves the previous file intact.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from typing import IO

__all__ = ["write_atomic", "write_json_report", "check_writable", "reserve_stdout"]

# The process's original stdout, kept for a ``-`` report by reserve_stdout().
_REPORT_STDOUT: IO[str] | None = None


def reserve_stdout() -> None:
    """Keep stdout for the ``-`` report alone (``--json -``).

    The original stdout is kept on a private descriptor for :func:`write_json_report`;
    descriptor 1 -- the target's ``sys.stdout``, ``print``, C code's ``printf`` and the
    stdout its child processes inherit -- now writes to stderr. A reader of stdout
    gets pure JSON; nothing the program prints is lost.
    """
    global _REPORT_STDOUT
    if _REPORT_STDOUT is not None:
        return
    sys.stdout.flush()
    kept = os.dup(1)  # not inherited by children (PEP 446)
    os.dup2(2, 1)
    _REPORT_STDOUT = os.fdopen(kept, "w", encoding="utf-8")


def write_atomic(path: str, text: str) -> None:
    """Write *text* (UTF-8) to *path* atomically.

    Raises:
        OSError: the folder cannot be written; *path* is left as it was.
    """
    folder = os.path.dirname(os.path.abspath(path))
    fd, temp = tempfile.mkstemp(prefix=".patchkit-audit-", suffix=".tmp", dir=folder)
    try:
        umask = os.umask(0)
        os.umask(umask)
        os.fchmod(fd, 0o666 & ~umask)  # mkstemp makes it 0600; a report is an ordinary file
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, path)
    except BaseException:
        if os.path.exists(temp):
            os.unlink(temp)
        raise


def write_json_report(data: object, path: str, stdout: IO[str] | None = None) -> None:
    """Write *data* as indented JSON to *path* atomically, or to stdout when *path* is ``-``."""
    text = json.dumps(data, indent=2) + "\n"
    if path == "-":
        out = stdout or _REPORT_STDOUT or sys.stdout
        out.write(text)
        out.flush()
        return
    write_atomic(path, text)


def check_writable(option: str, path: str) -> str | None:
    """Why a report cannot be written to *path* (a one-line message naming *option*), or None.

    Creates and removes a probe file beside *path*, so a read-only folder is caught too.
    """
    if os.path.isdir(path):
        return f"{option} {path}: is a directory, not a file"
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        return f"{option} {path}: folder {folder} does not exist"
    if os.path.exists(path) and not os.access(path, os.W_OK):
        return f"{option} {path}: file is not writable"
    try:
        fd, probe = tempfile.mkstemp(prefix=".patchkit-audit-", dir=folder)
    except OSError as exc:
        return f"{option} {path}: cannot write in {folder} ({exc.strerror})"
    os.close(fd)
    os.unlink(probe)
    return None
