"""Report files are written whole or not at all, and checked before the target runs.

Every report file (the audit's JSON, HTML and SARIF; the static scan's and the conformance
suite's) goes through :func:`write_atomic`: a temporary file in the destination folder,
flushed and fsynced, then ``os.replace``d over the destination, so a reader (a CI upload
step, a browser reloading the page) never sees half a report and an interrupted write leaves
the previous file intact. A path that is a device or a FIFO is written in place, never
replaced; a symlink keeps pointing where it did.
"""

from __future__ import annotations

import errno
import itertools
import json
import os
import stat
import sys
import tempfile
from typing import IO, Iterable

__all__ = ["write_atomic", "write_json_report", "check_writable", "reserve_stdout"]

# The process's original stdout, kept for a ``-`` report by reserve_stdout().
_REPORT_STDOUT: IO[str] | None = None
# FIFOs checked at start and kept open for their report (realpath -> descriptor).
_HELD: dict[str, int] = {}


def reserve_stdout() -> None:
    """Keep stdout for the ``-`` report alone (``--json -``).

    The original stdout is kept on a private descriptor for :func:`write_json_report`;
    descriptor 1 -- the target's ``sys.stdout``, ``print``, C code's ``printf`` and the
    stdout its child processes inherit -- now writes to stderr. A reader of stdout
    gets pure JSON; nothing the program prints is lost.

    Raises:
        OSError: descriptor 1 is not open (``>&-``): there is nowhere to write.
    """
    global _REPORT_STDOUT
    if _REPORT_STDOUT is not None:
        return
    os.fstat(1)  # EBADF when it is closed
    if sys.stdout is not None:
        sys.stdout.flush()
    kept = os.dup(1)  # not inherited by children (PEP 446)
    os.dup2(2, 1)
    _REPORT_STDOUT = os.fdopen(kept, "w", encoding="utf-8")


def write_atomic(path: str, text: str | Iterable[str]) -> None:
    """Write *text* (UTF-8; a string, or pieces of one, written as they come so a large
    report is never one string in memory) to *path*: a regular file atomically, anything
    else in place.

    A regular file (or none yet) is replaced whole: a temporary file in its folder, flushed
    and fsynced, then renamed over it. A symlink is followed, so it keeps pointing where it
    did and its target is what is replaced. A character device (``/dev/null``, a terminal)
    or a FIFO is opened and written, never replaced -- renaming a file over ``/dev/null``
    as root would replace the machine's null device. A FIFO with no reader is an error, not
    a wait.

    Raises:
        OSError: it cannot be written (the message says why); *path* is left as it was.
    """
    path = os.path.realpath(path)
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        mode = stat.S_IFREG
    pieces = [text] if isinstance(text, str) else text
    if stat.S_ISCHR(mode) or stat.S_ISFIFO(mode):
        _write_in_place(path, pieces)
        return
    if not stat.S_ISREG(mode):
        raise OSError(errno.EINVAL, f"{path} is not a file, FIFO or character device")
    folder = os.path.dirname(path)
    fd, temp = tempfile.mkstemp(prefix=".patchkit-audit-", suffix=".tmp", dir=folder)
    try:
        umask = os.umask(0)
        os.umask(umask)
        os.fchmod(fd, 0o666 & ~umask)  # mkstemp makes it 0600; a report is an ordinary file
        # A file name that is not UTF-8 (os.fsdecode's surrogates) shows as \udcff, not as
        # an encoding error that would lose the report.
        with os.fdopen(fd, "w", encoding="utf-8", errors="backslashreplace") as handle:
            handle.writelines(pieces)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, path)
    except BaseException:
        if os.path.exists(temp):
            os.unlink(temp)
        raise


def _write_in_place(path: str, pieces: Iterable[str]) -> None:
    """Write *pieces* to the device or FIFO at *path*: the FIFO :func:`check_writable` kept
    open for it, or opened now without waiting for a reader."""
    fd = _HELD.pop(path, None)
    try:
        if fd is None:
            fd = os.open(path, os.O_WRONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as exc:
        if exc.errno == errno.ENXIO:
            raise OSError(exc.errno, f"{path} is a FIFO with no reader") from None
        raise
    try:
        os.set_blocking(fd, True)  # a reader is there: wait for it to take the report
        for piece in pieces:
            view = memoryview(piece.encode("utf-8", "backslashreplace"))
            while view:
                view = view[os.write(fd, view):]
    finally:
        os.close(fd)


def write_json_report(data: object, path: str, stdout: IO[str] | None = None) -> None:
    """Write *data* as indented JSON to *path* atomically, or to stdout when *path* is ``-``."""
    # Piece by piece: json.dumps of a 100,000-finding report held ~700 MB at once.
    pieces = itertools.chain(json.JSONEncoder(indent=2).iterencode(data), ["\n"])
    if path == "-":
        out = stdout or _REPORT_STDOUT or sys.stdout
        out.writelines(pieces)
        out.flush()
        return
    write_atomic(path, pieces)


def check_writable(option: str, path: str) -> str | None:
    """Why a report cannot be written to *path* (a one-line message naming *option*), or None.

    Creates and removes a probe file beside a regular file's path, so a read-only folder is
    caught too; a device or FIFO is opened the way the report will be (a FIFO with no reader
    yet is refused now, rather than the report lost at the end). No probe file is made in
    ``/dev``.
    """
    if not path:
        return f"{option}: an empty path; name a file (or - for standard output)"
    if os.path.isdir(path):
        return f"{option} {path}: is a directory, not a file"
    real = os.path.realpath(path)
    try:
        mode = os.stat(real).st_mode
    except FileNotFoundError:
        mode = stat.S_IFREG
    except OSError as exc:  # a name too long, a component that is a file, ...
        return f"{option} {path}: {exc.strerror}"
    if stat.S_ISCHR(mode) or stat.S_ISFIFO(mode):
        return _check_in_place(option, path, real)
    if not stat.S_ISREG(mode):
        return f"{option} {path}: not a file, FIFO or character device"
    folder = os.path.dirname(real)
    if not os.path.isdir(folder):
        return f"{option} {path}: folder {folder} does not exist"
    if os.path.exists(real) and not os.access(real, os.W_OK):
        return f"{option} {path}: file is not writable"
    name_max = _name_max(folder)
    if len(os.fsencode(os.path.basename(real))) > name_max:
        return f"{option} {path}: the file name is longer than {name_max} bytes"
    try:
        fd, probe = tempfile.mkstemp(prefix=".patchkit-audit-", dir=folder)
    except OSError as exc:
        return f"{option} {path}: cannot write in {folder} ({exc.strerror})"
    os.close(fd)
    os.unlink(probe)
    return None


def _check_in_place(option: str, path: str, real: str) -> str | None:
    """Open a device or FIFO as the report will be. A FIFO stays open until its report is
    written: opened and closed now, its reader would read the end of its input at once."""
    if real in _HELD:
        return None
    try:
        fd = os.open(real, os.O_WRONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as exc:
        if exc.errno == errno.ENXIO:
            return (f"{option} {path}: a FIFO with no reader; start its reader first (the "
                    "report is written to it at the end)")
        return f"{option} {path}: {exc.strerror}"
    if stat.S_ISFIFO(os.fstat(fd).st_mode):
        _HELD[real] = fd
    else:
        os.close(fd)
    return None


def _name_max(folder: str) -> int:
    try:
        return os.pathconf(folder, "PC_NAME_MAX")
    except (OSError, ValueError):
        return 255
