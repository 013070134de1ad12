"""Hostile and odd inputs against every front door of an installed patchkit (issue 22).

Run: python benchmarks/probe_inputs.py [--python PATH] [--jobs N] [--door NAME ...]
                                       [--only SUBSTRING] [--json PATH] [--keep]

Standard library only. Without ``--python`` it makes a scratch virtualenv
(``/tmp/probe-venv``, ``--venv`` to move it) and installs this working tree into it as a
regular wheel (``pip install <repo>``, not editable) with pytest; ``--python`` reuses an
interpreter that already has patchkit installed, so a re-run takes a few minutes.

Every case runs in a fresh folder of its own (its ``$TMPDIR`` a subfolder), as its own
process group, with a timeout; a case still running at its timeout is a ``hang`` and its
group is killed. Device nodes are made with ``os.mknod`` inside the case's folder: the
probe never names a real system file (``/dev/full`` as a monitor log excepted: the monitor
only appends). Each outcome is classified, worst first:

  hang         the timeout passed (the process group is killed);
  security     a device, FIFO or symlink replaced by a regular file; a file written outside
               the named outputs; an element or attribute in the HTML page the page does not
               normally have; a raw ESC/CSI/CR/bidi character from the data in terminal
               output with colour off, or a forged report line; ``hunter2`` (a secret given
               as ``--password=hunter2``) in a report or the terminal report;
  traceback    "Traceback (most recent call last)" (or pytest's INTERNALERROR) from
               patchkit's own code -- a traceback whose frames are all the target's is the
               target's own error and is fine;
  report-lost  a report was asked for and the process ended without writing it, unless a
               clear error said so before the target ran;
  unexpected   none of the above, but not the outcome expected either (a bad value accepted,
               a usage error where the input was valid, output damaged, a status that is
               neither the expected one nor a usage error, a leftover temporary folder);
  clear-error  a usage error: the command's documented error status, an error line, no
               traceback;
  ok           the normal expected outcome.

Prints a table of counts per front door and in total, then every case that is not ``ok`` or
``clear-error`` with its command and the first lines of its standard error. ``--json PATH``
writes every case's result.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import dataclasses
import html.parser
import json
import os
import re
import select
import shlex
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import threading
import time
import zipfile
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
CLASSES = ["ok", "clear-error", "traceback", "hang", "report-lost", "security", "unexpected"]
BAD_OUTCOMES = ["traceback", "hang", "report-lost", "security", "unexpected"]
SECRET = "hunter2"
BAD_NUMBERS = ["inf", "-inf", "nan", "1e300", "0", "-1", "", "abc", "1e-300"]
NON_UTF8 = "r\udcff\udcfe"  # os.fsencode: b"r\xff\xfe"

# --- the programs the cases run ----------------------------------------------------------

MARK = 'import os as _o; open(_o.environ.get("PROBE_MARK", "ran.mark"), "w").close()\n'

TARGET = MARK + """\
import patchkit; patchkit.patch_all()
import ctypes, gevent
def block():
    ctypes.CDLL(None).usleep(40000)
gevent.joinall([gevent.spawn(block), gevent.spawn(gevent.sleep, 0.01)])
print("TARGET-OUT")
"""
SLEEPER = MARK + """\
import patchkit; patchkit.patch_all()
import gevent
for _ in range(100):
    gevent.sleep(0.05)
print("TARGET-OUT")
"""
STUBBORN = MARK + """\
import signal, time
signal.signal(signal.SIGTERM, lambda *a: None)
signal.signal(signal.SIGINT, lambda *a: None)
for _ in range(200):
    time.sleep(0.05)
"""
# SIGTERM/SIGINT while the audit writes its report, after the target ended.
LATE_SIGNAL = MARK + """\
import os, signal, time
import patchkit.audit.report as _report
_original = _report.write_json_report
def _slow(*args, **kwargs):
    os.kill(os.getpid(), signal.{sig})
    time.sleep(0.3)
    return _original(*args, **kwargs)
_report.write_json_report = _slow
print("TARGET-OUT")
"""
# sitecustomize: a stop signal the instant the audit's early handlers hand over to the runner's
HANDOVER_SIGNAL = """\
import os, signal
try:
    import patchkit._early as _early
except Exception:
    pass
else:
    _handlers = _early.EarlyStops.handlers
    def handlers(self):
        found = _handlers(self)
        os.kill(os.getpid(), signal.{sig})  # as the runner's handlers replace these
        return found
    _early.EarlyStops.handlers = handlers
"""
FORKS = MARK + """\
import patchkit; patchkit.patch_all()
import subprocess, sys
subprocess.run([sys.executable, "-c", "print('CHILD-OUT')"], check=True)
print("TARGET-OUT")
"""
RAISES = MARK + """\
def inner():
    raise ValueError("target's own error")
inner()
"""
MONITOR_CHILD = """\
import patchkit; patchkit.patch_all()
import ctypes, gevent
def block():
    ctypes.CDLL(None).usleep(150000)
gevent.joinall([gevent.spawn(block), gevent.spawn(gevent.sleep, 0.01)])
gevent.sleep(0.05)
print("MONITOR-OUT-OK")
"""
ONE_TEST = "def test_one():\n    assert 1 + 1 == 2\n"

# A saved report: every field the renderer reads, one finding of each common shape.
def base_report(text: str = "") -> dict:
    """A valid ``patchkit.audit/2`` report; *text* is appended to every string field."""
    t = text
    def frame(line: int) -> dict:
        return {"file": f"/srv/app/views{t}.py", "line": line, "function": f"handler{t}"}
    blocking = {
        "kind": "blocking", "file": f"/srv/app/views{t}.py", "line": 7,
        "function": f"handler{t}", "package": None, "callee": f"ctypes.CDLL.usleep{t}",
        "count": 3, "total_s": 0.15, "max_s": 0.06, "module": None, "name": None,
        "original": None, "stack": [frame(3), frame(7)],
        "message": f"a blocking call into ctypes held the hub{t}",
        "fix": f"run the call in gevent's threadpool{t}",
        "events": [{"start_s": 0.1, "duration_s": 0.05, "pid": 100},
                   {"start_s": 0.3, "duration_s": 0.06, "pid": 100}],
        "events_omitted": 0, "pids": [100]}
    stale = {
        "kind": "stale-reference", "file": f"/srv/app/helpers{t}.py", "line": 3,
        "function": None, "package": f"somepkg{t}", "callee": None, "count": 1,
        "total_s": 0.0, "max_s": 0.0, "module": f"app.helpers{t}", "name": f"sleep{t}",
        "original": f"time.sleep{t}", "stack": [],
        "message": f"sleep is the original time.sleep{t}",
        "fix": f"import app.helpers after patch_all(){t}", "events": [],
        "events_omitted": 0, "pids": [100]}
    return {"schema": "patchkit.audit/2", "target": f"app{t}.py",
            "argv": [f"app{t}.py", f"--name={t}"], "exit_code": 0, "duration_s": 1.5,
            "patched": ["socket", "time"], "findings": [blocking, stale],
            "stopped_by": None, "python": "3.11.7", "gevent": "26.9.0",
            "started_at": 1796694387.1, "processes": [
                {"pid": 100, "ppid": 1, "role": "main", "argv": ["python", f"app{t}.py"],
                 "exit_code": 0, "ended": True, "duration_s": 1.4, "started_s": 0.0,
                 "patched": ["socket", "time"], "findings": 2}]}


PAYLOADS = {
    "script-tag": "<script>alert(1)</script>",
    "img-onerror": "\"><img src=x onerror=alert(1)>",
    "svg-onload": "'><svg onload=alert(1)>",
    "close-style": "</style></title></textarea><script>alert(1)</script>",
    "javascript-url": "javascript:alert(1)//",
    "esc-sgr-osc8": "\x1b[31mRED\x1b[0m\x1b]8;;http://evil.example\x07LINK\x1b]8;;\x07",
    "crlf-forged": "\r\nFORGED blocking evil.py:1 in x  x1, 999.0 ms total\n",
    "c1-csi-bidi": "\x9b31m\u202eevil\u202c\x00",
}

# --- cases ---------------------------------------------------------------------------------


@dataclasses.dataclass
class Ctx:
    """One case's folder and what the checks need to know about it."""

    folder: Path
    py: str
    special: dict[str, str] = dataclasses.field(default_factory=dict)   # rel path -> kind
    victims: dict[str, bytes] = dataclasses.field(default_factory=dict)  # must not change
    readers: dict[str, FifoReader] = dataclasses.field(default_factory=dict)
    holders: list = dataclasses.field(default_factory=list)  # sockets held for the case
    baseline_html: frozenset = frozenset()

    def path(self, rel: str) -> Path:
        return self.folder / rel

    def write(self, rel: str, text: str | bytes, mode: int | None = None) -> None:
        path = self.path(rel)
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(text, bytes):
            path.write_bytes(text)
        else:
            path.write_text(text)
        if mode is not None:
            os.chmod(path, mode)

    def fifo(self, rel: str, reader: bool = False) -> None:
        os.mkfifo(self.path(rel))
        self.special[rel] = "fifo"
        if reader:
            self.readers[rel] = FifoReader(self.path(rel))

    def device(self, rel: str, minor: int = 3) -> None:
        """A character device like /dev/null (minor 3) or /dev/zero (5), made here."""
        os.mknod(self.path(rel), stat.S_IFCHR | 0o666, os.makedev(1, minor))
        self.special[rel] = "chr"

    def symlink(self, rel: str, to: str) -> None:
        self.path(rel).parent.mkdir(parents=True, exist_ok=True)
        os.symlink(to, self.path(rel))
        self.special[rel] = "link"

    def victim(self, rel: str) -> None:
        self.write(rel, "VICTIM: must not change\n")
        self.victims[rel] = self.path(rel).read_bytes()


class FifoReader:
    """Reads a FIFO without ever blocking, so a writer can open it; keeps what arrives."""

    def __init__(self, path: Path) -> None:
        self.fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
        self.data = bytearray()
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while not self.stop.is_set():
            ready, _, _ = select.select([self.fd], [], [], 0.05)
            if ready:
                try:
                    chunk = os.read(self.fd, 65536)
                except BlockingIOError:
                    chunk = b"x"[:0]
                if chunk:
                    self.data += chunk
                else:
                    time.sleep(0.02)

    def close(self) -> None:
        self.stop.set()
        self.thread.join(2)
        os.close(self.fd)


@dataclasses.dataclass
class Case:
    door: str
    name: str
    argv: list[str] | None = None      # "{py}" is the interpreter
    shell: str | None = None           # a bash command line instead ({py} likewise)
    expect: str = "ok"                 # ok | error | either
    outputs: tuple[str, ...] = ()      # report paths asked for ("-": stdout)
    setup: Callable[[Ctx], None] | None = None
    env: dict[str, str | bytes] = dataclasses.field(default_factory=dict)
    signals: tuple[tuple[float, int], ...] = ()
    timeout: float = 20.0
    ok_status: tuple[int, ...] = (0,)
    error_status: tuple[int, ...] = (2,)
    target_tb: bool = False            # the target's own traceback is expected
    stdout_must: str | None = None     # ok needs this in stdout
    quiet_stderr: bool = False         # ok needs an empty stderr
    check: Callable[[Ctx, Run], list[tuple[str, str]]] | None = None
    allowed: tuple[str, ...] = ()      # more paths (prefixes) the case may write
    secret_ok: bool = False            # --keep-argv: the secret is meant to be kept
    render_input: bool = False         # render cases: nothing runs, no marker
    error_re: str = r"error\b"         # a clear error's line matches this

    def command(self, py: str) -> str:
        if self.shell is not None:
            return self.shell.replace("{py}", shlex.quote(py))
        return " ".join(shlex.quote(a.replace("{py}", py)) for a in self.argv)


@dataclasses.dataclass
class Run:
    status: int | None
    stdout: bytes
    stderr: bytes
    seconds: float
    hung: bool
    marker: bool

    @property
    def err(self) -> str:
        return self.stderr.decode("utf-8", "replace")

    @property
    def out(self) -> str:
        return self.stdout.decode("utf-8", "replace")


def audit(*args: str) -> list[str]:
    return ["{py}", "-m", "patchkit.audit", *args]


def cases() -> list[Case]:
    out: list[Case] = []
    add = out.append
    tgt = ["t.py", f"--password={SECRET}"]

    # ---- python -m patchkit.audit: numbers ----
    for option in ("--threshold", "--duration", "--grace", "--flush"):
        for value in BAD_NUMBERS:
            add(Case("audit", f"{option} {value!r}", audit(f"{option}={value}", "--json",
                     "r.json", *tgt), expect="error", outputs=("r.json",)))
    for option, value in (("--threshold", "0.0001"), ("--threshold", "3600"),
                          ("--grace", "0.1"), ("--flush", "0.05"), ("--duration", "3600"),
                          ("--threshold", "1e-3")):
        add(Case("audit", f"{option} {value} (valid)", audit(option, value, "--json", "r.json",
                 *tgt), outputs=("r.json",), stdout_must="TARGET-OUT"))
    for option in ("--include", "--exclude"):
        for value in ("", ",,,", "app,stdlib,nosuchpkg", "\x1b[31m"):
            add(Case("audit", f"{option} {value!r}", audit(f"{option}={value}", "--json",
                     "r.json", *tgt), expect="either", outputs=("r.json",)))

    # ---- report paths ----
    for opt, ext in (("--json", "json"), ("--html", "html"), ("--sarif", "sarif")):
        r = f"r.{ext}"
        def paths(opt=opt, ext=ext, r=r):
            yield "empty path", "", "error", (), None
            yield "a folder", "adir", "error", (), lambda c: c.path("adir").mkdir()
            yield "missing folder", f"nodir/sub/{r}", "error", (), None
            yield "own char device (like /dev/null)", "devnull", "ok", ("devnull",), \
                lambda c: c.device("devnull")
            yield "FIFO without reader", "fifo", "error", ("fifo",), lambda c: c.fifo("fifo")
            yield "FIFO with a reader", "fifo", "ok", ("fifo",), \
                lambda c: c.fifo("fifo", reader=True)
            yield "symlink to a file", "link", "ok", ("link",), \
                lambda c: (c.write(f"real.{ext}", "old"), c.symlink("link", f"real.{ext}"))
            yield "symlink in a sticky world-writable folder", f"sticky/{r}", "either", \
                (f"sticky/{r}",), lambda c: (c.path("sticky").mkdir(mode=0o1777),
                                             os.chmod(c.path("sticky"), 0o1777),
                                             c.write(f"victim.{ext}", "victim"),
                                             c.symlink(f"sticky/{r}", f"../victim.{ext}"))
            yield "dangling symlink", "dangle", "either", ("dangle",), \
                lambda c: c.symlink("dangle", f"gone/{r}")
            yield "the script itself", "t.py", "error", (), None
            yield "a symlink to the script", "tlink", "error", (), \
                lambda c: c.symlink("tlink", "t.py")
            yield "a hard link to the script", "thard", "error", (), \
                lambda c: os.link(c.path("t.py"), c.path("thard"))
            yield "read-only folder (root writes anyway)", f"ro/{r}", "either", (f"ro/{r}",), \
                lambda c: (c.path("ro").mkdir(), os.chmod(c.path("ro"), 0o555))
            yield "name of 300 characters", "n" * 300 + f".{ext}", "error", (), None
            yield "path longer than PATH_MAX", "/".join(["d" * 200] * 25) + f"/{r}", "error", \
                (), None
            yield "non-UTF-8 name", f"{NON_UTF8}.{ext}", "either", (f"{NON_UTF8}.{ext}",), None
            yield "a path under a regular file", f"afile/{r}", "error", (), \
                lambda c: c.write("afile", "x")
        for label, path, expect, allowed, setup in paths():
            asked = (path,) if path and path not in ("t.py", "tlink", "thard") else ()
            add(Case("audit", f"{opt} {label}", audit(opt, path, *tgt), expect=expect,
                     outputs=asked, setup=setup, allowed=allowed))
    add(Case("audit", "--json equal to --html", audit("--json", "same", "--html", "same", *tgt),
             expect="error", outputs=("same",)))
    add(Case("audit", "--sarif is a symlink to --json", audit("--json", "r.json", "--sarif",
             "rlink", *tgt), expect="error", outputs=("r.json",),
             setup=lambda c: c.symlink("rlink", "r.json")))
    add(Case("audit", "--json given twice", audit("--json", "a.json", "--json", "b.json", *tgt),
             expect="error", outputs=("a.json", "b.json")))
    add(Case("audit", "--json - and --html -", audit("--json", "-", "--html", "-", *tgt),
             expect="error", outputs=("-",)))
    add(Case("audit", "--json, --html and --sarif together", audit(
        "--json", "r.json", "--html", "r.html", "--sarif", "r.sarif", *tgt),
        outputs=("r.json", "r.html", "r.sarif"), stdout_must="TARGET-OUT"))
    add(Case("audit", "--json - (stdout carries only JSON)", audit("--json", "-", *tgt),
             outputs=("-",)))
    add(Case("audit", "--keep-argv keeps the secret", audit("--keep-argv", "--json", "r.json",
             *tgt), outputs=("r.json",), secret_ok=True))

    # ---- targets ----
    add(Case("audit", "no target", audit("--json", "r.json"), expect="error",
             outputs=("r.json",)))
    add(Case("audit", "missing script", audit("--json", "r.json", "nosuch.py"),
             expect="error", outputs=("r.json",)))
    add(Case("audit", "folder without __main__", audit("--json", "r.json", "pkgdir"),
             expect="error", outputs=("r.json",), setup=lambda c: c.write("pkgdir/x.py", "")))
    add(Case("audit", "folder with __main__", audit("--json", "r.json", "appdir", f"--password={SECRET}"),
             outputs=("r.json",), setup=lambda c: c.write("appdir/__main__.py", TARGET),
             stdout_must="TARGET-OUT"))
    def make_zip(c: Ctx, with_main: bool) -> None:
        with zipfile.ZipFile(c.path("app.zip"), "w") as z:
            z.writestr("__main__.py" if with_main else "other.py", TARGET)
    add(Case("audit", "zip with __main__", audit("--json", "r.json", "app.zip", f"--token={SECRET}"),
             outputs=("r.json",), setup=lambda c: make_zip(c, True), stdout_must="TARGET-OUT"))
    add(Case("audit", "zip without __main__", audit("--json", "r.json", "app.zip"),
             expect="error", outputs=("r.json",), setup=lambda c: make_zip(c, False)))
    add(Case("audit", "not a zip named .zip", audit("--json", "r.json", "bad.zip"),
             expect="either", outputs=("r.json",), target_tb=True, ok_status=(1,),
             setup=lambda c: c.write("bad.zip", b"PK\x03\x04garbage")))
    add(Case("audit", "non-UTF-8 script name", audit("--json", "r.json", "--html", "r.html",
             f"{NON_UTF8}.py", f"--password={SECRET}"), outputs=("r.json", "r.html"),
             setup=lambda c: c.write(f"{NON_UTF8}.py", TARGET), stdout_must="TARGET-OUT"))
    add(Case("audit", "SyntaxError script", audit("--json", "r.json", "bad.py"),
             outputs=("r.json",), ok_status=(1,), target_tb=True,
             setup=lambda c: c.write("bad.py", MARK + "def (:\n")))
    add(Case("audit", "script that raises", audit("--json", "r.json", "raise.py"),
             outputs=("r.json",), ok_status=(1,), target_tb=True,
             setup=lambda c: c.write("raise.py", RAISES)))
    add(Case("audit", "sys.exit(3)", audit("--json", "r.json", "e.py"), outputs=("r.json",),
             ok_status=(3,), setup=lambda c: c.write("e.py", MARK + "import sys; sys.exit(3)\n")))
    add(Case("audit", "sys.exit('message')", audit("--json", "r.json", "e.py"),
             outputs=("r.json",), ok_status=(1,),
             setup=lambda c: c.write("e.py", MARK + "import sys; sys.exit('bye')\n")))
    add(Case("audit", "os._exit(5)", audit("--json", "r.json", "e.py"), outputs=("r.json",),
             ok_status=(5,), setup=lambda c: c.write("e.py", MARK + "import os; os._exit(5)\n")))
    add(Case("audit", "os._exit(5) after patching", audit("--json", "r.json", "e.py"),
             outputs=("r.json",), ok_status=(5,), setup=lambda c: c.write(
                 "e.py", MARK + "import patchkit; patchkit.patch_all()\nimport os; os._exit(5)\n")))
    add(Case("audit", "-m missing module", audit("--json", "r.json", "-m", "no_such_mod_xyz"),
             expect="error", outputs=("r.json",)))
    add(Case("audit", "-m with no name", audit("--json", "r.json", "-m"), expect="error",
             outputs=("r.json",)))
    add(Case("audit", "-m module", audit("--json", "r.json", "-m", "tmod", f"--password={SECRET}"),
             outputs=("r.json",), setup=lambda c: c.write("tmod.py", TARGET),
             stdout_must="TARGET-OUT"))
    add(Case("audit", "bare module name", audit("--json", "r.json", "tmod"),
             outputs=("r.json",), setup=lambda c: c.write("tmod.py", TARGET),
             stdout_must="TARGET-OUT"))
    add(Case("audit", "target starts a Python child", audit("--json", "r.json", "f.py"),
             outputs=("r.json",), setup=lambda c: c.write("f.py", FORKS),
             stdout_must="TARGET-OUT"))
    add(Case("audit", "target closes its stdout and prints", audit("--json", "r.json", "c.py"),
             outputs=("r.json",), ok_status=(1, 120, 0), target_tb=True, expect="either",
             setup=lambda c: c.write("c.py", MARK + "import sys\nsys.stdout.close()\nprint('x')\n")))
    add(Case("audit", "run with stdout closed (>&-)", shell="{py} -m patchkit.audit --json r.json "
             "t.py >&-", outputs=("r.json",), ok_status=(0, 1, 120), expect="either"))
    add(Case("audit", "--json - with stdout closed (>&-)", shell="{py} -m patchkit.audit "
             "--json - t.py >&-", expect="either", ok_status=(0, 1, 120)))
    add(Case("audit", "--json - piped to head -c 10", shell="{py} -m patchkit.audit --json - "
             "t.py | head -c 10; exit ${PIPESTATUS[0]}", ok_status=(0, 141)))
    add(Case("audit", "terminal report piped to head -1", shell="{py} -m patchkit.audit t.py "
             "2>&1 >/dev/null | head -1 >/dev/null; exit ${PIPESTATUS[0]}", ok_status=(0, 141)))
    add(Case("audit", "terminal report to a reader that exits at once (| true)", shell=(
        "{py} -m patchkit.audit --json r.json t.py 2>&1 >/dev/null | true; "
        "exit ${PIPESTATUS[0]}"), outputs=("r.json",), ok_status=(0, 141)))
    add(Case("audit", "--json - to a reader that exits at once (| true)", shell=(
        "{py} -m patchkit.audit --json - t.py | true; exit ${PIPESTATUS[0]}"),
        ok_status=(0, 141), error_re=r"error\b|cannot write"))
    add(Case("audit", "target with stdin closed", shell="{py} -m patchkit.audit --json r.json "
             "t.py <&-", outputs=("r.json",)))

    # ---- option combinations ----
    add(Case("audit", "--render with a target", audit("--render", "saved.json", "--json",
             "r.json", "t.py"), expect="error", setup=lambda c: c.write(
                 "saved.json", json.dumps(base_report()))))
    add(Case("audit", "--render missing file", audit("--render", "nosuch.json", "--html",
             "r.html"), expect="error"))
    add(Case("audit", "--render with nothing", audit("--render"), expect="error"))
    add(Case("audit", "--render output is its input", audit("--render", "saved.json",
             "--json", "saved.json"), expect="error", setup=lambda c: c.write(
                 "saved.json", json.dumps(base_report()))))
    add(Case("audit", "--render the same report twice", audit("--render", "saved.json",
             "saved.json", "--json", "m.json"), expect="either", outputs=("m.json",),
             setup=lambda c: c.write("saved.json", json.dumps(base_report()))))
    add(Case("audit", "unknown option", audit("--bogus", *tgt), expect="error"))
    add(Case("audit", "--version", audit("--version")))
    add(Case("audit", "--strict with a finding", audit("--strict", "--json", "r.json", *tgt),
             outputs=("r.json",), ok_status=(1,), stdout_must="TARGET-OUT"))
    add(Case("audit", "--patch --exact --no-follow -q", audit(
        "--patch", "--exact", "--no-follow", "-q", "--json", "r.json", *tgt),
        outputs=("r.json",), stdout_must="TARGET-OUT"))

    # ---- stopping ----
    slp = ["sl.py", f"--password={SECRET}"]
    add(Case("audit", "--duration 0.001", audit("--duration", "0.001", "--json", "r.json",
             *slp), outputs=("r.json",), expect="either"))
    add(Case("audit", "--duration 0.3", audit("--duration", "0.3", "--json", "r.json", *slp),
             outputs=("r.json",)))
    for sig, name, status in ((signal.SIGTERM, "SIGTERM", -15), (signal.SIGINT, "SIGINT", -2)):
        for delay in (0.05, 0.08, 0.1, 0.12, 0.15, 0.2, 0.5, 1.0):
            add(Case("audit", f"{name} at {delay} s", audit("--json", "r.json", *slp),
                     outputs=("r.json",), signals=((delay, sig),), ok_status=(status, 130, 143),
                     target_tb=True))
        add(Case("audit", f"{name} after the target ended (while the report is written)",
                 audit("--json", "r.json", "late.py"), outputs=("r.json",),
                 ok_status=(status, 0), setup=lambda c, n=name: c.write(
                     "late.py", LATE_SIGNAL.replace("{sig}", n))))
        add(Case("audit", f"{name} the instant the early handlers hand over (sitecustomize)",
                 audit("--json", "r.json", *slp), outputs=("r.json",),
                 ok_status=(status, 130, 143), target_tb=True,
                 env={"PYTHONPATH": "site"}, setup=lambda c, n=name: c.write(
                     "site/sitecustomize.py", HANDOVER_SIGNAL.replace("{sig}", n)),
                 allowed=("site",)))
        add(Case("audit", f"{name} to a target that ignores it (--grace 0.5)",
                 audit("--grace", "0.5", "--json", "r.json", "stub.py"), outputs=("r.json",),
                 signals=((1.0, sig),), ok_status=(124,),
                 setup=lambda c: c.write("stub.py", STUBBORN)))
        add(Case("audit", f"two {name}s 0.1 s apart", audit("--json", "r.json", *slp),
                 outputs=("r.json",), signals=((0.6, sig), (0.7, sig)),
                 ok_status=(status, 130, 143), target_tb=True))
    add(Case("audit", "--duration 0.5 on a target that ignores SIGINT/SIGTERM (--grace 0.5)",
             audit("--duration", "0.5", "--grace", "0.5", "--json", "r.json", "stub.py"),
             outputs=("r.json",), ok_status=(124,), setup=lambda c: c.write("stub.py", STUBBORN)))
    add(Case("audit", "SIGUSR2 mid-run, then SIGTERM", audit("--json", "r.json", *slp),
             outputs=("r.json",), signals=((0.6, signal.SIGUSR2), (1.2, signal.SIGTERM)),
             ok_status=(-15, 143), target_tb=True))
    add(Case("audit", "SIGTERM at 0.6 s on a 0.6 s target", audit("--json", "r.json", "q.py"),
             outputs=("r.json",), signals=((0.6, signal.SIGTERM),), ok_status=(0, -15, 143),
             target_tb=True, setup=lambda c: c.write(
                 "q.py", MARK + "import time\ntime.sleep(0.55)\n")))

    # ---- --render of saved reports ----
    def render(name: str, data: str | bytes | None, outs: tuple[str, ...] = ("--html",),
               expect: str = "error", check=None, timeout: float = 20.0,
               extra: tuple[str, ...] = ()) -> None:
        args = ["--render", "in.json"]
        outputs = []
        for opt in outs:
            if opt == "--terminal":
                continue
            path = {"--html": "out.html", "--sarif": "out.sarif", "--json": "out.json"}[opt]
            args += [opt, path]
            outputs.append(path)
        add(Case("render", name, audit(*args, *extra), expect=expect, outputs=tuple(outputs),
                 setup=(lambda c: c.write("in.json", data)) if data is not None else None,
                 check=check, timeout=timeout, render_input=True))

    def mutated(mutate: Callable[[dict], None]) -> str:
        data = base_report()
        mutate(data)
        return json.dumps(data)

    def setf(path: tuple, value):
        def mutate(data: dict) -> None:
            node = data
            for key in path[:-1]:
                node = node[key]
            if value is _DELETE:
                del node[path[-1]]
            else:
                node[path[-1]] = value
        return mutate

    render("valid report (baseline) to html, sarif, json", json.dumps(base_report()),
           ("--html", "--sarif", "--json"), expect="ok")
    render("valid report to the terminal", json.dumps(base_report()), ("--terminal",),
           expect="ok")
    F0 = ("findings", 0)
    for label, path, value in [
            ("count 'many'", F0 + ("count",), "many"),
            ("count true", F0 + ("count",), True),
            ("count 1.5", F0 + ("count",), 1.5),
            ("total_s null", F0 + ("total_s",), None),
            ("max_s 'x'", F0 + ("max_s",), "x"),
            ("kind 1", F0 + ("kind",), 1),
            ("kind unknown", F0 + ("kind",), "nosuch-kind"),
            ("kind with a payload", F0 + ("kind",), "blocking\"><script>alert(1)</script>"),
            ("message null", F0 + ("message",), None),
            ("message a list", F0 + ("message",), ["a"]),
            ("fix 5", F0 + ("fix",), 5),
            ("file 123", F0 + ("file",), 123),
            ("line 'seven'", F0 + ("line",), "seven"),
            ("line 10**30", F0 + ("line",), 10 ** 30),
            ("stack not a list", F0 + ("stack",), "frames"),
            ("stack of strings", F0 + ("stack",), ["a", "b"]),
            ("a frame missing line", F0 + ("stack", 0, "line"), _DELETE),
            ("a frame line 'x'", F0 + ("stack", 0, "line"), "x"),
            ("events with strings", F0 + ("events",), ["a", "b"]),
            ("an event's start_s 'x'", F0 + ("events", 0, "start_s"), "x"),
            ("an event's pid 'x'", F0 + ("events", 0, "pid"), "x"),
            ("events not a list", F0 + ("events",), {"a": 1}),
            ("pids of strings", F0 + ("pids",), ["x"]),
            ("finding missing kind", F0 + ("kind",), _DELETE),
            ("finding missing count", F0 + ("count",), _DELETE),
            ("a finding that is a string", F0, "finding"),
            ("findings not a list", ("findings",), {"0": 1}),
            ("findings missing", ("findings",), _DELETE),
            ("schema wrong", ("schema",), "patchkit.audit/99"),
            ("schema missing", ("schema",), _DELETE),
            ("exit_code 'x'", ("exit_code",), "x"),
            ("target 5", ("target",), 5),
            ("argv a string", ("argv",), "app.py"),
            ("processes a string", ("processes",), "many"),
            ("a process's pid 'x'", ("processes", 0, "pid"), "x"),
            ("a process's argv [1]", ("processes", 0, "argv"), [1]),
            ("started_at 'yesterday'", ("started_at",), "yesterday"),
            ("patched [1, 2]", ("patched",), [1, 2])]:
        render(f"field: {label}", mutated(setf(path, value)))
    for label, path, value, expect in [
            # saved.py bounds numbers at +-1e12 s / 2**63 only; a negative one renders as is
            ("count -1", F0 + ("count",), -1, "either"),
            ("total_s -5", F0 + ("total_s",), -5, "either"),
            ("line -1", F0 + ("line",), -1, "either"),
            ("duration_s -1", ("duration_s",), -1, "either")]:
        render(f"field: {label}", mutated(setf(path, value)), expect=expect)
    raw = json.dumps(base_report())
    render("NaN literal", raw.replace('"total_s": 0.15', '"total_s": NaN'))
    render("Infinity literal", raw.replace('"max_s": 0.06', '"max_s": Infinity'))
    render("-Infinity literal", raw.replace('"duration_s": 1.5', '"duration_s": -Infinity'))
    render("1e999 (overflows to inf)", raw.replace('"total_s": 0.15', '"total_s": 1e999'))
    render("an integer of 5,000 digits", raw.replace('"count": 3', '"count": ' + "9" * 5000))
    render("100,000 [", "[" * 100000)
    render("100,000 {\"a\":", '{"a":' * 100000)
    render("a list, not an object", "[1, 2, 3]")
    render("a number", "42")
    render("null", "null")
    render("a string", '"report"')
    render("empty file", "")
    render("whitespace only", "  \n\t ")
    render("binary garbage", bytes(range(256)) * 40)
    render("invalid UTF-8 inside a string", raw.replace("handler", "handl\udcff", 1)
           .encode("utf-8", "surrogateescape"))
    render("UTF-8 BOM first", b"\xef\xbb\xbf" + raw.encode(), expect="either")
    render("UTF-16", raw.encode("utf-16"))
    render("truncated JSON", raw[: len(raw) // 2])
    render("a lone surrogate escape", raw.replace("handler", "\\ud800", 1), expect="either",
           outs=("--html", "--sarif", "--json"))
    render("a directory", None, extra=(), expect="error")
    out[-1].setup = lambda c: c.path("in.json").mkdir()
    render("a FIFO with no writer", None, expect="error", timeout=15)
    out[-1].setup = lambda c: c.fifo("in.json")
    render("an own /dev/zero", None, expect="error", timeout=15)
    out[-1].setup = lambda c: c.device("in.json", minor=5)
    big = base_report()
    big["findings"] = big["findings"][:1]
    big["findings"][0]["message"] = "M" * 10_000_000
    big["findings"][0]["fix"] = "<b>" * 100_000
    big_text = json.dumps(big)
    for opt in ("--html", "--sarif", "--terminal"):
        render(f"1 finding, 10 MB message, to {opt.lstrip('-')}", big_text, (opt,),
               expect="either", timeout=30)
    many = base_report()
    many["findings"] = [dict(many["findings"][0], line=i) for i in range(1, 20001)]
    render("20,000 findings to html", json.dumps(many), ("--html",), expect="ok", timeout=30)
    for pname, payload in PAYLOADS.items():
        text = json.dumps(base_report(payload))
        render(f"hostile {pname} to html", text, ("--html",), expect="either",
               check=check_html)
        render(f"hostile {pname} to sarif", text, ("--sarif",), expect="either",
               check=check_sarif)
        render(f"hostile {pname} to the terminal", text, ("--terminal",), expect="either",
               check=check_terminal)
    def merged(c: Ctx) -> None:
        c.write("a.json", json.dumps(base_report()))
        c.write("b.json", json.dumps(base_report("<i>b</i>")))
    add(Case("render", "merge two reports to json/html", audit(
        "--render", "a.json", "b.json", "--json", "m.json", "--html", "m.html"),
        outputs=("m.json", "m.html"), setup=merged, render_input=True))
    add(Case("render", "merge a good and a bad report", audit(
        "--render", "a.json", "bad.json", "--json", "m.json"), expect="error",
        setup=lambda c: (c.write("a.json", json.dumps(base_report())),
                         c.write("bad.json", "{")), render_input=True))
    add(Case("render", "--render to --json - (refused: a file only)", audit(
             "--render", "a.json", "--json", "-"), expect="error", setup=lambda c: c.write("a.json", json.dumps(base_report())),
             render_input=True))
    add(Case("render", "--render a symlink to /dev/null-like device", audit(
        "--render", "lnk.json"), expect="error", render_input=True,
        setup=lambda c: (c.device("dn"), c.symlink("lnk.json", "dn"))))

    # ---- PATCHKIT_MONITOR ----
    def monitor(name: str, value: str | bytes, expect: str = "error", setup=None,
                allowed: tuple[str, ...] = (), check=None) -> None:
        add(Case("monitor", name, ["{py}", "mon.py"], env={"PATCHKIT_MONITOR": value},
                 expect=expect, setup=setup, stdout_must="MONITOR-OUT-OK", allowed=allowed,
                 check=check))
    for value in ("1", "threshold=0.05", "threshold=0.05,rate=0,summary=0.1",
                  "log=-", "log=off", "stack=1", "period=0.0005", "logging=1"):
        monitor(f"valid {value!r}", value, expect="ok")
    for value in ("", "0", "yes", "treshold=0.1", "threshold", "threshold=", "=", ",,,",
                  "threshold=-1", "threshold=nan", "threshold=inf", "threshold=1e300",
                  "threshold=abc", "threshold=0", "threshold=1e-300", "rate=-5", "rate=1e9",
                  "stack=0", "stack=99999999", "stack=2.5", "summary=0", "period=0",
                  "period=nan", "logging=2", "metrics=yes",
                  "threshold=0.05,threshold=0.2", "threshold=0.05,,log=-",
                  "THRESHOLD=0.1", " threshold = 0.1 ", "threshold=0.1;rm -rf /",
                  "log=" + "a" * 100000, "threshold=\x1b[31m"):
        monitor(f"{value[:40]!r}", value, expect="either")
    monitor("non-UTF-8 value", b"threshold=\xff\xfe", expect="either")
    monitor("log= a FIFO without reader", "log=fifo", expect="either",
            setup=lambda c: c.fifo("fifo"))
    monitor("log= a FIFO with a reader", "log=fifo", expect="ok",
            setup=lambda c: c.fifo("fifo", reader=True), check=check_fifo_got("fifo"))
    monitor("log= a folder", "log=adir", expect="either", setup=lambda c: c.path("adir").mkdir())
    monitor("log=/dev/full (full disk)", "log=/dev/full", expect="either")
    monitor("log= own char device", "log=devnull", expect="ok",
            setup=lambda c: c.device("devnull"))
    monitor("log= a symlink in a sticky world-writable folder", "log=sticky/hub.jsonl",
            expect="either", setup=lambda c: (
                c.path("sticky").mkdir(), os.chmod(c.path("sticky"), 0o1777),
                c.victim("victim.jsonl"), c.symlink("sticky/hub.jsonl", "../victim.jsonl")))
    monitor("log= a symlink elsewhere (followed)", "log=hub.jsonl", expect="ok",
            setup=lambda c: (c.write("real.jsonl", ""), c.symlink("hub.jsonl", "real.jsonl")),
            allowed=("real.jsonl",), check=check_jsonl("real.jsonl"))
    monitor("log= a path in a missing folder", "log=nodir/sub/hub.jsonl", expect="either")
    monitor("log= a non-UTF-8 name", os.fsencode(f"log={NON_UTF8}.jsonl"), expect="ok",
            allowed=(f"{NON_UTF8}.jsonl",))
    monitor("log= a file (valid)", "log=hub.jsonl", expect="ok", allowed=("hub.jsonl",),
            check=check_jsonl("hub.jsonl"))
    monitor("log= an existing file with a torn last line", "log=hub.jsonl", expect="ok",
            allowed=("hub.jsonl",), setup=lambda c: c.write("hub.jsonl", '{"event": "blo'))
    monitor("log= a path under a regular file", "log=afile/hub.jsonl", expect="either",
            setup=lambda c: c.write("afile", "x"))
    monitor("log= empty", "log=", expect="either")
    monitor("log= a read-only file", "log=ro.jsonl", expect="either", allowed=("ro.jsonl",),
            setup=lambda c: c.write("ro.jsonl", "", mode=0o444))
    for port in ("99999", "0", "-1", "abc", "1e3", "65536", "nan"):
        monitor(f"metrics_port={port}", f"metrics_port={port}", expect="either")
    monitor("metrics_port= a port already taken", "", expect="either", setup=take_port)
    monitor("metrics=1", "metrics=1", expect="either")
    monitor("metrics_port= a free port (valid)", "", expect="ok", setup=free_port)

    # ---- PATCHKIT_AUDIT_FOLLOW ----
    def follow(name: str, value: str | bytes | Callable[[Ctx], str], setup=None,
               allowed: tuple[str, ...] = (), argv=None) -> None:
        case = Case("follow", name, argv or ["{py}", "-c", "print(1)"], expect="ok",
                    stdout_must="1\n", quiet_stderr=True, setup=setup, allowed=allowed,
                    timeout=15)
        if callable(value):
            def setup2(c: Ctx, value=value, setup=setup) -> None:
                if setup:
                    setup(c)
                c.env_late = {"PATCHKIT_AUDIT_FOLLOW": value(c)}
            case.setup = setup2
        else:
            case.env = {"PATCHKIT_AUDIT_FOLLOW": value}
        add(case)
    for value in ("garbage", "{", "[]", "null", "1", '"str"', "{}", '{"folder": 1}',
                  '{"folder": "relative/patchkit-audit-1-x"}', '{"folder": "/"}',
                  '{"folder": null, "threshold": 0.02}', "[" * 100000, "x" * 100000,
                  '{"threshold": NaN}', "\x00"[:0] + "{\"a\": 1e999}"):
        follow(f"{value[:40]!r}", value)
    follow("non-UTF-8 bytes", b'{"folder": "\xff"}')
    def folder_value(rel: str, mode: int | None = 0o700, **fields) -> Callable[[Ctx], str]:
        def value(c: Ctx) -> str:
            data = {"folder": str(c.path(rel)), "threshold": 0.02, "include": [],
                    "exclude": [], "flush_interval": 2.0, "exact": False}
            data.update(fields)
            return json.dumps(data).replace('"NaN"', "NaN")
        return value
    def mkfolder(rel: str, mode: int) -> Callable[[Ctx], None]:
        def setup(c: Ctx) -> None:
            c.path(rel).mkdir()
            os.chmod(c.path(rel), mode)
        return setup
    follow("a folder not named by the audit (0700)", folder_value("plain"),
           setup=mkfolder("plain", 0o700))
    follow("an audit-named folder open to others (0755)", folder_value("patchkit-audit-1-open"),
           setup=mkfolder("patchkit-audit-1-open", 0o755))
    follow("a symlink to an audit-named folder", folder_value("patchkit-audit-2-link"),
           setup=lambda c: (mkfolder("patchkit-audit-2-real", 0o700)(c),
                            c.symlink("patchkit-audit-2-link", "patchkit-audit-2-real")))
    follow("an audit-named folder that is a file", folder_value("patchkit-audit-3-file"),
           setup=lambda c: c.write("patchkit-audit-3-file", "x"))
    follow("a missing audit-named folder", folder_value("patchkit-audit-4-gone"))
    ok_folder = mkfolder("patchkit-audit-5-ok", 0o700)
    for label, fields in (("flush_interval 0", {"flush_interval": 0}),
                          ("flush_interval 1e-9", {"flush_interval": 1e-9}),
                          ("flush_interval true", {"flush_interval": True}),
                          ("flush_interval '2'", {"flush_interval": "2"}),
                          ("threshold nan", {"threshold": "NaN"}),
                          ("threshold -1", {"threshold": -1}),
                          ("threshold 1e308", {"threshold": 1e308}),
                          ("threshold missing", {"threshold": _DELETE}),
                          ("exact 'yes'", {"exact": "yes"}),
                          ("include 'app'", {"include": "app"}),
                          ("include [1]", {"include": [1]}),
                          ("a huge string field", {"include": ["x" * 100000]})):
        def value(c: Ctx, fields=fields) -> str:
            data = json.loads(folder_value("patchkit-audit-5-ok")(c))
            for key, val in fields.items():
                if val is _DELETE:
                    del data[key]
                else:
                    data[key] = val
            return json.dumps(data).replace('"NaN"', "NaN")
        valid = label == "a huge string field"
        follow(f"{'valid shape' if valid else 'wrong type/range'}: {label} (valid folder)",
               value, setup=ok_folder, allowed=("patchkit-audit-5-ok",) if valid else ())
    follow("a valid value (the audit's own shape; writes there by design)",
           folder_value("patchkit-audit-5-ok"), setup=ok_folder,
           allowed=("patchkit-audit-5-ok",))
    follow("a valid value under python -I (never followed)", folder_value("patchkit-audit-5-ok"),
           setup=ok_folder, argv=["{py}", "-I", "-c", "print(1)"])

    # ---- pytest --patchkit ----
    def pyt(name: str, *args: str, expect: str = "error", setup=None, outputs=(),
            allowed=()) -> None:
        add(Case("pytest", name, ["{py}", "-m", "pytest", "-q", "-p", "no:cacheprovider",
                                  "--patchkit", *args, "test_one.py"], expect=expect,
                 error_status=(4, 2), setup=setup, outputs=outputs, allowed=allowed,
                 render_input=True, timeout=30))
    pyt("plain --patchkit", expect="ok")
    for value in ("inf", "nan", "0", "-1", "abc", "", "1e300", "-inf"):
        pyt(f"--patchkit-threshold {value!r}", f"--patchkit-threshold={value}",
            expect="either" if value == "" else "error")
        # README: 0 turns the hang check off; an empty value is the default (as an unset ini)
        pyt(f"--patchkit-hang {value!r}", f"--patchkit-hang={value}",
            expect="either" if value in ("", "0") else "error")
    pyt("--patchkit-threshold 0.05 (valid)", "--patchkit-threshold=0.05", expect="ok")
    pyt("--patchkit-hang 30 (valid)", "--patchkit-hang=30", expect="ok")
    pyt("--patchkit-report a folder", "--patchkit-report", "adir",
        setup=lambda c: c.path("adir").mkdir())
    pyt("--patchkit-report a bad suffix", "--patchkit-report", "r.txt")
    pyt("--patchkit-report under a file", "--patchkit-report", "afile/r.json",
        setup=lambda c: c.write("afile", "x"))
    pyt("--patchkit-report in a missing folder (made at the end)", "--patchkit-report",
        "nodir/r.json", expect="ok", outputs=("nodir/r.json",), allowed=("nodir",))
    pyt("--patchkit-report empty", "--patchkit-report=")
    pyt("--patchkit-report FIFO without reader", "--patchkit-report", "fifo.json",
        expect="either", setup=lambda c: c.fifo("fifo.json"), outputs=("fifo.json",))
    pyt("--patchkit-report own char device", "--patchkit-report", "dev.json", expect="ok",
        setup=lambda c: c.device("dev.json"), outputs=("dev.json",))
    pyt("--patchkit-report the test file", "--patchkit-report", "test_one.py")
    for ext in ("json", "html", "sarif"):
        pyt(f"--patchkit-report r.{ext} (valid)", "--patchkit-report", f"r.{ext}",
            expect="ok", outputs=(f"r.{ext}",))
    pyt("--patchkit-report given twice (same path)", "--patchkit-report", "r.json",
        "--patchkit-report", "r.json", expect="either", outputs=("r.json",))
    pyt("--patchkit-no unknown", "--patchkit-no", "nosuch")
    pyt("--patchkit-no empty", "--patchkit-no=")
    pyt("--patchkit-no socket (valid)", "--patchkit-no", "socket", expect="ok")

    # ---- python -m patchkit (runner) ----
    def runner(name: str, *args: str, expect: str = "error", setup=None, **kw) -> None:
        add(Case("runner", name, ["{py}", "-m", "patchkit", *args], expect=expect,
                 setup=setup, **kw))
    runner("valid script", "t.py", expect="ok", stdout_must="TARGET-OUT")
    runner("unknown --no-NAME", "--no-nosuch", "t.py")
    runner("--only unknown", "--only", "nosuch", "t.py")
    runner("--only socket --no-socket", "--only", "socket", "--no-socket", "t.py")
    runner("--only empty", "--only=", "t.py")
    runner("--only socket twice", "--only", "socket", "--only", "socket", "t.py",
           expect="either", stdout_must="TARGET-OUT")
    runner("missing script", "nosuch.py")
    runner("folder without __main__", "pkgdir", setup=lambda c: c.write("pkgdir/x.py", ""))
    runner("no program", )
    runner("-m with no name", "-m")
    runner("-m missing module", "-m", "no_such_mod_xyz")
    runner("script that raises", "raise.py", expect="ok", ok_status=(1,), target_tb=True,
           setup=lambda c: c.write("raise.py", RAISES))
    runner("--list | head -1", expect="ok", ok_status=(0, 141))
    out[-1].argv, out[-1].shell = None, "{py} -m patchkit --list | head -1; exit ${PIPESTATUS[0]}"
    runner("unknown option", "--bogus", "t.py")

    # ---- python -m patchkit.static ----
    def static(name: str, *args: str, expect: str = "either", setup=None, **kw) -> None:
        add(Case("static", name, ["{py}", "-m", "patchkit.static", *args], expect=expect,
                 setup=setup, timeout=30, **kw))
    static("a FIFO named x.so", "x.so", setup=lambda c: c.fifo("x.so"))
    def fifo_dir(c: Ctx) -> None:
        c.path("fifos").mkdir()
        for name in ("a.so", "b.cpython-311-x86_64-linux-gnu.so", "c.so.1", "d.pyd"):
            c.fifo(f"fifos/{name}")
    static("a folder of FIFOs", "fifos", setup=fifo_dir)
    static("a folder of FIFOs, -v --json", "-v", "--json", "s.json", "fifos", setup=fifo_dir,
           outputs=("s.json",))
    static("a non-ELF .so", "fake.so", setup=lambda c: c.write("fake.so", "not an ELF file\n"))
    static("a truncated ELF .so", "trunc.so",
           setup=lambda c: c.write("trunc.so", b"\x7fELF\x02\x01\x01" + b"\x00" * 40))
    static("an ELF header with absurd offsets", "absurd.so", setup=lambda c: c.write(
        "absurd.so", b"\x7fELF\x02\x01\x01" + b"\x00" * 9 + b"\x03\x00\x3e\x00" +
        b"\xff" * 44))
    static("an own /dev/zero named zero.so", "zero.so",
           setup=lambda c: c.device("zero.so", minor=5))
    static("an own /dev/zero (no suffix)", "zero", setup=lambda c: c.device("zero", minor=5))
    static("a missing path", "nosuch_path", expect="error")
    static("a symlink loop named loop.so", "loop.so",
           setup=lambda c: (c.symlink("loop.so", "loop2.so"), c.symlink("loop2.so", "loop.so")))
    static("an empty folder", "empty", setup=lambda c: c.path("empty").mkdir())
    static("--json empty path", "--json=", "empty", expect="error",
           setup=lambda c: c.path("empty").mkdir())
    static("--json a folder", "--json", "empty", "empty", expect="error",
           setup=lambda c: c.path("empty").mkdir())
    static("--json a FIFO without reader", "--json", "fifo", "empty", expect="error",
           setup=lambda c: (c.fifo("fifo"), c.path("empty").mkdir()))
    static("a sparse 1 GB .so", "sparse.so", setup=lambda c: (
        c.write("sparse.so", b"\x7fELF\x02\x01\x01"), os.truncate(c.path("sparse.so"), 1 << 30)))
    static("a non-UTF-8 folder name", NON_UTF8, setup=lambda c: c.path(NON_UTF8).mkdir())

    # ---- python -m patchkit.conformance (usage errors only) ----
    for option, values in (("--timeout", ("inf", "nan", "0", "-1", "abc", "1e300", "")),
                           ("--jobs", ("0", "-1", "abc", "1.5", "99999999999", "")),
                           ("--threadpool-idle", ("nan", "-1", "abc", "inf", "1e300"))):
        for value in values:
            add(Case("conformance", f"{option} {value!r}",
                     ["{py}", "-m", "patchkit.conformance", f"{option}={value}"],
                     expect="error", timeout=15))
    add(Case("conformance", "--column nosuch", ["{py}", "-m", "patchkit.conformance",
             "--column", "nosuch"], expect="error", timeout=15))

    # ---- python -m patchkit.knowledge ----
    def know(name: str, *args: str, expect: str = "ok", shell=None, **kw) -> None:
        add(Case("knowledge", name, None if shell else ["{py}", "-m", "patchkit.knowledge",
                 *args], shell=shell, expect=expect, error_status=(1, 2),
                 error_re=r"error\b|is not in the knowledge base", **kw))
    know("an unknown name", "nosuch_library_xyz", expect="error")
    know("--json an unknown name", "--json", "nosuch_library_xyz", expect="error")
    know("an empty name", "", expect="either")
    know("a name of 100,000 characters", "x" * 100000, expect="error")
    know("a non-UTF-8 name", NON_UTF8, expect="error")
    know("an escape sequence name", "\x1b[31mred", expect="error", check=check_no_esc)
    know("psycopg2", "psycopg2")
    know("--all | head -1", shell="{py} -m patchkit.knowledge --all | head -1; "
         "exit ${PIPESTATUS[0]}", ok_status=(0, 141))
    know("--json --all | head -c 10", shell="{py} -m patchkit.knowledge --json --all | "
         "head -c 10; exit ${PIPESTATUS[0]}", ok_status=(0, 141))
    know("--installed", "--installed")
    return out


class _Delete:
    pass


_DELETE = _Delete()


# --- extra checks ------------------------------------------------------------------------

class _Tags(html.parser.HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.seen: set[tuple[str, str]] = set()
        self.scripts = 0
        self.bad_urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.seen.add((tag, ""))
        if tag == "script":
            self.scripts += 1
        for name, value in attrs:
            self.seen.add((tag, name))
            if value and value.strip().lower().startswith("javascript:"):
                self.bad_urls.append(f"<{tag} {name}={value[:60]!r}>")

    handle_startendtag = handle_starttag


def html_shape(text: str) -> tuple[set[tuple[str, str]], int, list[str]]:
    parser = _Tags()
    parser.feed(text)
    parser.close()
    return parser.seen, parser.scripts, parser.bad_urls


BASELINE: dict[str, object] = {}


def check_html(ctx: Ctx, run: Run) -> list[tuple[str, str]]:
    path = ctx.path("out.html")
    if not is_file(path):
        return []
    seen, scripts, bad = html_shape(path.read_text("utf-8", "replace"))
    base_seen, base_scripts = BASELINE.get("html", (set(), 0))
    problems = []
    extra = sorted(seen - base_seen)
    if extra:
        problems.append(("security", f"elements/attributes the page does not have: {extra[:8]}"))
    if scripts > base_scripts:
        problems.append(("security", f"{scripts} <script> elements (normally {base_scripts})"))
    if bad:
        problems.append(("security", f"javascript: URLs {bad[:3]}"))
    return problems


def check_sarif(ctx: Ctx, run: Run) -> list[tuple[str, str]]:
    path = ctx.path("out.sarif")
    if is_file(path):
        try:
            json.loads(path.read_bytes())
        except ValueError as exc:
            return [("unexpected", f"the SARIF is not JSON: {exc}")]
    return []


RAW_CONTROL = re.compile("[\x1b\x9b\r\u202e\u202c\x00\x07]")


def check_terminal(ctx: Ctx, run: Run) -> list[tuple[str, str]]:
    problems = []
    for name, text in (("stdout", run.out), ("stderr", run.err)):
        found = sorted({repr(ch) for ch in RAW_CONTROL.findall(text)})
        if found:
            problems.append(("security", f"raw control characters in {name}: {found}"))
        if any(line.lstrip().startswith("FORGED") for line in text.splitlines()):
            problems.append(("security", f"a forged report line in {name}"))
    return problems


def check_no_esc(ctx: Ctx, run: Run) -> list[tuple[str, str]]:
    if "\x1b" in run.out or "\x1b" in run.err:
        return [("security", "a raw ESC from the input in the output")]
    return []


def check_jsonl(rel: str) -> Callable[[Ctx, Run], list[tuple[str, str]]]:
    def check(ctx: Ctx, run: Run) -> list[tuple[str, str]]:
        path = ctx.path(rel)
        lines = path.read_text("utf-8", "replace").splitlines() if is_file(path) else []
        if not lines:
            return [("unexpected", f"no monitor events in {rel}")]
        for line in lines:
            try:
                json.loads(line)
            except ValueError:
                return [("unexpected", f"a line of {rel} is not JSON: {line[:80]!r}")]
        return []
    return check


def check_fifo_got(rel: str) -> Callable[[Ctx, Run], list[tuple[str, str]]]:
    def check(ctx: Ctx, run: Run) -> list[tuple[str, str]]:
        if not ctx.readers[rel].data:
            return [("unexpected", f"the FIFO {rel}'s reader got nothing")]
        return []
    return check


def free_port(ctx: Ctx) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    ctx.env_late = {"PATCHKIT_MONITOR": f"metrics_port={port}"}


def take_port(ctx: Ctx) -> None:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen()
    ctx.holders.append(sock)
    ctx.env_late = {"PATCHKIT_MONITOR": f"metrics_port={sock.getsockname()[1]}"}


# --- running and classifying -------------------------------------------------------------

def snapshot(root: Path) -> dict[str, tuple]:
    """Every entry under *root* (not following symlinks): its kind and identity."""
    seen: dict[str, tuple] = {}
    for folder, dirs, files in os.walk(root):
        for name in dirs + files:
            full = os.path.join(folder, name)
            rel = os.path.relpath(full, root)
            if rel == ".tmp" or rel.startswith(".tmp" + os.sep):
                continue
            try:
                info = os.lstat(full)
            except OSError:
                continue
            kind = stat.S_IFMT(info.st_mode)
            if stat.S_ISREG(info.st_mode):
                seen[rel] = (kind, info.st_ino, info.st_size, info.st_mtime_ns)
            else:
                seen[rel] = (kind, info.st_ino)
    return seen


TB_HEAD = "Traceback (most recent call last)"
FRAME = re.compile(r'^\s*File "([^"]*)", line')


def tracebacks(text: str, target_ok: bool, folder: Path) -> list[str]:
    """The tracebacks in *text* that are not the target's own: their first lines."""
    bad = []
    lines = text.splitlines()
    for i, line in enumerate(lines):
        if "INTERNALERROR>" in line:
            bad.append("pytest INTERNALERROR: " + line.strip()[:200])
            break
        if TB_HEAD not in line:
            continue
        frames = []
        for follow in lines[i + 1:]:
            m = FRAME.match(follow)
            if m:
                frames.append(m.group(1))
            elif follow.startswith((" ", "\t")):
                continue
            else:
                break
        own = [f for f in frames if "/patchkit/" in f or f.startswith("<frozen runpy")]
        tail = next((x for x in lines[i + 1:] if x and not x.startswith(" ")), "")
        if target_ok and frames and not own:
            continue
        # The target's Ctrl-C: raised by the audit's SIGINT handler (a frame of its own, the
        # only difference from python's C handler), in the target's or gevent's frames.
        if target_ok and tail.strip() == "KeyboardInterrupt" and \
                all(f.endswith("/patchkit/audit/stopping.py") for f in own):
            continue
        where = own[-1] if own else (frames[-1] if frames else "?")
        bad.append(f"{tail.strip()[:160]} (last own frame: {where})")
    return bad


def error_lines(text: str, pattern: str = r"error\b") -> list[str]:
    return [line for line in text.splitlines() if re.search(pattern, line, re.I)
            and not line.startswith("{")]


def is_file(path: Path) -> bool:
    """os.path.isfile: False for a name too long and any other error, too."""
    return os.path.isfile(path)


def check_output(ctx: Ctx, case: Case, rel: str, run: Run) -> str | None:
    """Why the report asked for at *rel* is missing or broken, or None."""
    if rel == "-":
        try:
            json.loads(run.stdout)
            return None
        except ValueError:
            return "stdout is not the JSON report"
    kind = ctx.special.get(rel)
    if kind == "fifo":
        reader = ctx.readers.get(rel)
        if reader is None:
            return "not written (a FIFO without a reader)"
        return None if reader.data else "the FIFO's reader got nothing"
    if kind == "chr":
        return None
    path = ctx.path(rel)
    if not is_file(path):
        return "not written"
    data = path.read_bytes()
    if not data or data == b"old":
        return "empty or unchanged"
    if rel.endswith((".json", ".sarif")):
        try:
            json.loads(data)
        except ValueError as exc:
            return f"not JSON: {exc}"
    return None


def classify(ctx: Ctx, case: Case, run: Run, before: dict, after: dict) -> tuple[str, list]:
    problems: list[tuple[str, str]] = []
    err, out = run.err, run.out
    if run.hung:
        problems.append(("hang", f"still running after {case.timeout:g} s"))

    # security: specials replaced, files written outside the outputs, victims, the secret
    for rel, kind in ctx.special.items():
        try:
            mode = os.lstat(ctx.path(rel)).st_mode
        except FileNotFoundError:
            problems.append(("security", f"{rel} ({kind}) was removed"))
            continue
        now = {stat.S_IFIFO: "fifo", stat.S_IFCHR: "chr", stat.S_IFLNK: "link"}.get(
            stat.S_IFMT(mode), "regular file" if stat.S_ISREG(mode) else "other")
        if now != kind:
            problems.append(("security", f"{rel}: a {kind} became a {now}"))
    allowed = set()
    for rel in list(case.outputs) + list(case.allowed):
        if rel in ("-", ""):
            continue
        allowed.add(os.path.normpath(rel))
        full = ctx.path(rel)
        if os.path.islink(full):
            allowed.add(os.path.relpath(os.path.realpath(full), os.path.realpath(ctx.folder)))
    allowed.add("ran.mark")

    def permitted(rel: str) -> bool:
        if "__pycache__" in rel or ".pytest_cache" in rel:
            return True
        return any(rel == a or rel.startswith(a + os.sep) for a in allowed)
    for rel, ident in after.items():
        if before.get(rel) != ident and not permitted(rel):
            if rel in before and before[rel][0] == stat.S_IFDIR == ident[0]:
                continue
            problems.append(("security", f"written outside the outputs: {rel!r}"))
    for rel, content in ctx.victims.items():
        if ctx.path(rel).read_bytes() != content:
            problems.append(("security", f"{rel} (a file outside the outputs) was changed"))
    if not case.secret_ok:
        texts = [("stderr", err)]
        for rel in case.outputs:
            if rel == "-":
                texts.append(("stdout", out))
            elif ctx.special.get(rel) == "fifo" and rel in ctx.readers:
                texts.append((rel, ctx.readers[rel].data.decode("utf-8", "replace")))
            elif is_file(ctx.path(rel)):
                texts.append((rel, ctx.path(rel).read_text("utf-8", "replace")))
        for where, text in texts:
            if SECRET in text:
                problems.append(("security", f"the secret from argv is in {where}"))

    # tracebacks
    for tb in tracebacks(err, case.target_tb, ctx.folder):
        problems.append(("traceback", tb))

    clear = (run.status in case.error_status and not any(p[0] == "traceback" for p in problems)
             and bool(error_lines(err, case.error_re)))

    # reports lost
    if not run.hung:
        missing = [(rel, why) for rel in case.outputs
                   if (why := check_output(ctx, case, rel, run)) is not None]
        # a clear error before the target ran (or nothing runs): nothing to write
        before_run = clear and (case.render_input or not run.marker)
        if missing and not before_run and case.expect != "error":
            for rel, why in missing:
                problems.append(("report-lost", f"{rel}: {why}"))
        elif missing and not before_run and run.marker:
            for rel, why in missing:
                problems.append(("report-lost", f"{rel}: {why} (the target ran)"))
        elif clear and not before_run:
            problems.append(("report-lost", "an error after the target ran"))

    if case.check is not None and not run.hung:
        problems.extend(case.check(ctx, run))

    # expectation
    if not run.hung and not any(p[0] in ("traceback", "report-lost") for p in problems):
        ok = run.status in case.ok_status
        if case.stdout_must is not None and ok:
            if case.door == "follow":
                ok = out == case.stdout_must
            else:
                ok = case.stdout_must in out
            if not ok:
                problems.append(("unexpected", f"output damaged: stdout {out[:120]!r}"))
        if case.quiet_stderr and ok and err:
            problems.append(("unexpected", f"stderr not empty: {err[:200]!r}"))
        if case.door == "monitor" and ok:
            messages = [line for line in err.splitlines()  # not events, nor logging=1's
                        if not line.startswith(('{"event"', "hub blocked "))]
            outcome = "clear-error" if messages else "ok"
            if case.expect == "error" and outcome == "ok":
                problems.append(("unexpected", "a bad value was accepted without a word"))
        elif ok:
            outcome = "ok"
            if case.expect == "error":
                problems.append(("unexpected", f"a bad input was accepted (status {run.status})"))
        elif clear:
            outcome = "clear-error"
            if case.expect == "ok":
                problems.append(("unexpected", "a usage error for a valid input: "
                                 + error_lines(err, case.error_re)[0][:200]))
            if len(error_lines(err, case.error_re)) > 2:
                problems.append(("unexpected", f"{len(error_lines(err, case.error_re))} error lines"))
        else:
            outcome = "unexpected"
            if not any(p[0] == "unexpected" for p in problems):
                problems.append(("unexpected", f"status {run.status} (expected "
                                 f"{case.ok_status} or a usage error {case.error_status})"))
    else:
        outcome = "ok"
    if ctx.path(".tmp").is_dir() and any(ctx.path(".tmp").iterdir()) and not run.hung:
        left = sorted(p.name for p in ctx.path(".tmp").iterdir())
        problems.append(("unexpected", f"left in $TMPDIR: {left[:4]}"))

    for cls in ("hang", "security", "traceback", "report-lost", "unexpected"):
        if any(p[0] == cls for p in problems):
            return cls, problems
    return outcome, problems


def run_case(index: int, case: Case, root: Path, py: str) -> dict:
    folder = root / f"{index:03d}"
    folder.mkdir()
    (folder / ".tmp").mkdir()
    ctx = Ctx(folder=folder, py=py)
    ctx.env_late = {}
    ctx.write("t.py", TARGET)
    ctx.write("sl.py", SLEEPER)
    ctx.write("mon.py", MONITOR_CHILD)
    ctx.write("test_one.py", ONE_TEST)
    env = {key: value for key, value in os.environ.items()
           if not key.startswith(("PATCHKIT", "PYTHON", "PYTEST", "COV_", "VIRTUAL_ENV"))}
    env.update({"TMPDIR": str(folder / ".tmp"), "HOME": str(folder), "NO_COLOR": "1",
                "TERM": "dumb", "LANG": "C.UTF-8", "COLUMNS": "100",
                "PROBE_MARK": str(folder / "ran.mark"), "PYTHONDONTWRITEBYTECODE": "1"})
    setup_error = None
    try:
        if case.setup:
            case.setup(ctx)
    except Exception as exc:  # a probe bug or a missing capability: say so, skip the case
        setup_error = f"{type(exc).__name__}: {exc}"
    env_b = {os.fsencode(k): (v if isinstance(v, bytes) else os.fsencode(v))
             for k, v in {**env, **case.env, **ctx.env_late}.items()}
    command = case.command(py)
    result = {"door": case.door, "name": case.name, "command": command,
              "expect": case.expect}
    if setup_error:
        for reader in ctx.readers.values():
            reader.close()
        result.update({"class": "unexpected", "problems": [["probe", setup_error]],
                       "status": None, "seconds": 0, "stderr": ""})
        return result
    before = snapshot(folder)
    argv = ["bash", "-c", command] if case.shell is not None else \
        [a.replace("{py}", py) for a in case.argv]
    start = time.monotonic()
    proc = subprocess.Popen(argv, cwd=folder, env=env_b, stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            start_new_session=True)
    timers = []
    for delay, signum in case.signals:
        def send(signum=signum) -> None:
            try:
                if proc.poll() is None:
                    proc.send_signal(signum)
            except ProcessLookupError:
                pass
        timer = threading.Timer(delay, send)
        timer.start()
        timers.append(timer)
    hung = False
    try:
        stdout, stderr = proc.communicate(timeout=case.timeout)
    except subprocess.TimeoutExpired:
        hung = True
        kill_group(proc.pid)
        try:
            stdout, stderr = proc.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            stdout, stderr = b"", b"(no output: the pipes stayed open after SIGKILL)"
    seconds = time.monotonic() - start
    for timer in timers:
        timer.cancel()
    kill_group(proc.pid)  # whatever the case left behind in its group
    time.sleep(0.05)
    for reader in ctx.readers.values():
        reader.close()
    for sock in ctx.holders:
        sock.close()
    run = Run(status=proc.returncode, stdout=stdout, stderr=stderr, seconds=seconds, hung=hung,
              marker=(folder / "ran.mark").exists())
    after = snapshot(folder)
    try:
        cls, problems = classify(ctx, case, run, before, after)
    except Exception as exc:  # a bug of the probe's: shown, not a crash of the whole run
        cls, problems = "unexpected", [("probe", f"classify failed: {exc!r}")]
    result.update({"class": cls, "problems": [list(p) for p in problems],
                   "status": run.status, "seconds": round(seconds, 2),
                   "stderr": run.err[-20000:], "stdout_head": run.out[:300]})
    return result


def visible(text: str) -> str:
    """*text* with control characters shown as escapes (the probe's own listing)."""
    return re.sub(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]",
                  lambda m: f"\\x{ord(m.group()):02x}", text)


def kill_group(pid: int) -> None:
    try:
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def baseline_html(root: Path, py: str) -> None:
    folder = root / "baseline"
    folder.mkdir()
    (folder / "in.json").write_text(json.dumps(base_report()))
    subprocess.run([py, "-m", "patchkit.audit", "--render", "in.json", "--html", "out.html"],
                   cwd=folder, capture_output=True, timeout=60)
    page = folder / "out.html"
    if page.is_file():
        seen, scripts, _ = html_shape(page.read_text("utf-8", "replace"))
        BASELINE["html"] = (seen, scripts)
    else:
        print("probe: the baseline HTML page was not written; HTML checks flag everything",
              file=sys.stderr)


def prepare_python(args: argparse.Namespace) -> str:
    if args.python:
        return args.python
    venv = Path(args.venv)
    if venv.exists():
        shutil.rmtree(venv)
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    py = str(venv / "bin" / "python")
    # a regular (not editable) wheel of this tree, with the monitor extra (prometheus_client,
    # for metrics_port) and pytest for the plugin's cases
    subprocess.run([py, "-m", "pip", "install", "-q", f"{REPO}[monitor]", "pytest"], check=True)
    return py


def table(results: list[dict]) -> str:
    doors: dict[str, dict[str, int]] = {}
    for r in results:
        row = doors.setdefault(r["door"], {c: 0 for c in CLASSES})
        row[r["class"]] += 1
    total = {c: sum(row[c] for row in doors.values()) for c in CLASSES}
    head = ["front door", "inputs tried", "ok", "clear errors", "tracebacks", "hangs",
            "reports lost", "security", "unexpected"]
    order = ["ok", "clear-error", "traceback", "hang", "report-lost", "security", "unexpected"]
    rows = [[door, str(sum(row.values()))] + [str(row[c]) for c in order]
            for door, row in doors.items()]
    rows.append(["**total**", str(sum(total.values()))] + [str(total[c]) for c in order])
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--python", help="an interpreter with patchkit installed (no set-up)")
    parser.add_argument("--venv", default="/tmp/probe-venv",
                        help="where to make the scratch install (default /tmp/probe-venv)")
    parser.add_argument("--jobs", type=int, default=3, help="cases at a time (default 3)")
    parser.add_argument("--door", action="append", help="only these front doors (repeatable)")
    parser.add_argument("--only", help="only cases whose name contains this")
    parser.add_argument("--json", metavar="PATH", help="write every case's result here")
    parser.add_argument("--keep", action="store_true", help="keep the cases' folders")
    parser.add_argument("--list", action="store_true", help="list the cases and exit")
    args = parser.parse_args()
    sys.stdout.reconfigure(errors="backslashreplace")
    if not 1 <= args.jobs <= 32:
        parser.error("--jobs: from 1 to 32")
    # a child must see SIGINT's default action even if this probe was started with it ignored
    signal.signal(signal.SIGINT, signal.default_int_handler)
    selected = [c for c in cases() if (not args.door or c.door in args.door)
                and (not args.only or args.only in c.name)]
    if args.list:
        for case in selected:
            print(f"{case.door:12} {case.expect:7} {case.name}")
        print(f"{len(selected)} cases")
        return 0
    py = prepare_python(args)
    where = subprocess.run([py, "-c", "import patchkit, gevent; print(patchkit.__file__, "
                            "patchkit.__version__ if hasattr(patchkit, '__version__') else '')"],
                           capture_output=True, text=True, cwd=tempfile.gettempdir())
    if where.returncode:
        print(f"probe: {py} cannot import patchkit:\n{where.stderr}", file=sys.stderr)
        return 2
    print(f"probe: {py}: patchkit at {where.stdout.strip()}")
    if str(REPO / "patchkit") in where.stdout:
        print("probe: warning: that is this checkout (an editable install)", file=sys.stderr)
    root = Path(tempfile.mkdtemp(prefix="patchkit-probe-"))
    results: list[dict] = []
    try:
        baseline_html(root, py)
        start = time.monotonic()
        with concurrent.futures.ThreadPoolExecutor(args.jobs) as pool:
            futures = [pool.submit(run_case, i, case, root, py)
                       for i, case in enumerate(selected)]
            for future in futures:
                results.append(future.result())
                sys.stderr.write(".")
                sys.stderr.flush()
        print(f"\nprobe: {len(results)} cases in {time.monotonic() - start:.0f} s")
    finally:
        if args.keep:
            print(f"probe: cases kept in {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)
    print()
    print(table(results))
    print()
    for r in results:
        if r["class"] in ("ok", "clear-error"):
            continue
        print(f"[{r['class']}] {r['door']}: {visible(r['name'])}  (status {r['status']}, "
              f"{r['seconds']} s)")
        print(f"    $ {visible(r['command'][:240])}")
        for kind, detail in r["problems"]:
            print(f"    {kind}: {visible(detail[:200])}")
        for line in r["stderr"].splitlines()[:6]:
            print(f"    | {visible(line[:200])}")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1))
    bad = sum(1 for r in results if r["class"] in ("traceback", "hang", "report-lost",
                                                  "security"))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
