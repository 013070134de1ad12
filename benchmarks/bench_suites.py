"""``pytest --patchkit`` on real gevent users' own test suites, beside plain runs.

Run: python -m benchmarks.bench_suites [--workdir DIR] [--suites requests,gipc] [--rounds N]

Fetches the sdists of requests, locust, geventhttpclient, pyzmq and gipc with pip (their
test suites come from there), installs the same releases and their test requirements
into a venv of its own (with this checkout of patchkit, editable), and runs each suite
-- or the stated subset -- four ways:

- ``plain``: as its project runs it;
- ``gevent``: with a root conftest.py calling ``gevent.monkey.patch_all()``;
- ``patchkit``: ``--patchkit`` (also writing the session's JSON report);
- ``patchkit -n 2``: the same over two xdist workers.

It prints one table: tests, failures per mode, the call sites behind the failures only
``--patchkit`` has (read from the failure texts), and wall-time ratios against ``plain``.
Modes are interleaved (their order turns every round), yet on a shared 2-core machine
the ratios are noisy: read them as "about", not to two decimals.

Loopback only: each run happens in a new network namespace that has only ``lo``
(``unshare -n``, as root), so no test reaches the internet; tests that need it are
deselected (``DESELECT`` below says which). A run whose tests finished but whose process
did not exit within ``--exit-grace`` seconds is stopped and marked "hung at exit".
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import subprocess
import sys
import tarfile
import tempfile
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# name -> (release, test paths relative to the sdist root, extra pytest args)
# locust: its sdists after 2.24 leave locust/test out; 2.24.0 still ships it.
# pyzmq: the six files with green (zmq.green) test classes; the rest test the C backend.
SUITES: dict[str, tuple[str, list[str], list[str]]] = {
    "requests": ("2.34.2", ["tests"], []),
    # -p no:rerunfailures: its server thread runs before locust's import-time patch_all(),
    # and the main thread then deadlocks on a lock (plain mode too).
    "locust": ("2.24.0", ["locust/test"], ["-p", "no:rerunfailures"]),
    "geventhttpclient": ("2.6.1", ["tests"], ["-m", "not network"]),
    "pyzmq": ("27.3.0", [f"tests/test_{n}.py" for n in
                         ("socket", "poll", "reqrep", "pubsub", "pair", "multipart")], []),
    "gipc": ("1.8.0", ["test"], []),
}

# Tests that need the internet (or an address off this machine), deselected by -k.
DESELECT: dict[str, list[str]] = {
    # TARPIT: connects to 10.255.255.1 to provoke a connect timeout.
    "requests": ["test_connect_timeout", "test_total_timeout_connect",
                 "test_https_warnings", "test_pyopenssl_redirect"],
    "geventhttpclient": [],  # its own `network` marker does it
    # Not the internet: these hang in every patched mode (gevent's patched os.close defers
    # the real close to the loop, so the peer never sees EOF); deselected in all modes so
    # the rest of the suite runs (a pytest-timeout in a greenlet once ended a --patchkit run
    # with an INTERNALERROR from pytest's traceback formatting).
    "gipc": ["test_closewrite_read", "test_closeread_write", "test_whatever_2",
             "test_early_readchild_exit_write_from_child"],
}

# Extra arguments of the --patchkit modes. pyzmq's suite tests pyzmq's own blocking sockets
# beside its green ones: patchkit's zmq patcher would make zmq.Socket zmq.green's in the
# non-green test classes too. (Until the patcher gave green's classes the originals'
# subscript, pyzmq's zmq.asyncio failed to import under it and not one test loaded.)
PATCHKIT_ARGS: dict[str, list[str]] = {"pyzmq": ["--patchkit-no", "zmq"]}

# Edits to the copied tests, the same in every mode: gipc's nose-style setup/teardown
# methods, which pytest 8 no longer calls.
FIXUPS: dict[str, list[tuple[str, str, str]]] = {
    "gipc": [("test/test_gipc.py", "    def setup(self):", "    def setup_method(self):"),
             ("test/test_gipc.py", "    def teardown(self):", "    def teardown_method(self):")],
}

TEST_REQUIREMENTS = [
    "pytest", "pytest-xdist", "pytest-httpbin==2.1.0", "trustme", "flasgger", "brotlicffi",
    "decorator", "six", "pysocks", "pytest-mock", "cryptography", "pyquery", "retry", "dpkt",
    "httplib2", "pytest-rerunfailures", "pytest-asyncio", "tornado", "pytest-timeout",
]
# Every mode: a test still running after this long fails (pytest-timeout, by signal) and
# the suite goes on; gipc's suite hangs in a test under a patching conftest.
TEST_TIMEOUT = 60
# httpbin 0.10.0 breaks on Werkzeug 3; later ones declare greenlet<3 on Python < 3.12,
# which gevent's greenlet 3 contradicts (and works with): installed without its pins.
NO_DEPS = ["httpbin==0.10.4"]

MODES = ("plain", "gevent", "patchkit", "patchkit -n 2")
GEVENT_CONFTEST = "from gevent import monkey\n\nmonkey.patch_all()\n"
_UNKNOWN = re.compile(r"patchkit: \d+ call sites failed tests, \d+ computed on the hub, "
                      r"(\d+) unknown")
_SITE = re.compile(r"^blocking at (\S+?):(\d+) in (\S+)\s+\[package: ([^,\]]+)(?:, callee: ([^\]]+))?\]",
                   re.M)


@dataclass
class Run:
    """One suite run in one mode."""

    tests: int = 0
    failed: list[str] = field(default_factory=list)
    by_plugin: dict[str, list[str]] = field(default_factory=dict)  # site -> tests
    wall: float = 0.0
    hung_at_exit: bool = False
    timed_out: bool = False
    unknown: int = 0  # call sites reported as unknown (neither a wait nor computation)


def _venv(workdir: Path) -> Path:
    python = workdir / "venv" / "bin" / "python"
    stamp = workdir / "venv" / ".installed"
    wanted = " ".join([*TEST_REQUIREMENTS, *(f"{n}=={v}" for n, (v, _, _) in SUITES.items())])
    if stamp.exists() and stamp.read_text() == wanted:
        return python
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(workdir / "venv")], check=True)
    subprocess.run([str(python), "-m", "pip", "install", "-q", "-e", str(ROOT),
                    *wanted.split()], check=True)
    subprocess.run([str(python), "-m", "pip", "install", "-q", "--no-deps", *NO_DEPS],
                   check=True)
    stamp.write_text(wanted)
    return python


def _sdist(python: Path, workdir: Path, name: str, version: str) -> Path:
    """The extracted sdist of *name*==*version* (downloaded by pip once)."""
    tree = workdir / "src" / f"{name}-{version}"
    if tree.exists():
        return tree
    sdists = workdir / "sdists"
    sdists.mkdir(parents=True, exist_ok=True)
    archive = next(sdists.glob(f"{name}-{version}.tar.gz"), None)
    if archive is None:
        subprocess.run([str(python), "-m", "pip", "download", "-q", "--no-deps",
                        "--no-binary", ":all:", f"{name}=={version}", "-d", str(sdists)],
                       check=True)
        archive = next(sdists.glob(f"{name}-{version}.tar.gz"))
    with tarfile.open(archive) as tar:
        tar.extractall(workdir / "src", filter="data")
    return tree


def _copies(tree: Path, workdir: Path, name: str) -> dict[str, Path]:
    """A copy of the sdist tree to run in, and one with the patching conftest."""
    out = {}
    for label in ("plain", "gevent"):
        copy = workdir / "run" / f"{name}-{label}"
        if copy.exists():
            shutil.rmtree(copy)
        shutil.copytree(tree, copy)
        for path, old, new in FIXUPS.get(name, []):
            file = copy / path
            file.write_text(file.read_text().replace(old, new))
        if label == "gevent":
            (copy / "conftest.py").write_text(GEVENT_CONFTEST)
        out[label] = copy
    return out


def _isolated(cmd: list[str]) -> list[str]:
    """*cmd* in a network namespace with only loopback, when this user may make one."""
    if os.geteuid() != 0 or shutil.which("unshare") is None or shutil.which("ip") is None:
        return cmd
    return ["unshare", "-n", "sh", "-c", 'ip link set lo up && exec "$@"', "sh", *cmd]


def _command(python: Path, name: str, mode: str, out: Path) -> list[str]:
    _, paths, extra = SUITES[name]
    cmd = [str(python.parent / "pytest"), *paths, *extra, "-p", "no:cacheprovider", "-q",
           f"--junitxml={out}.xml", "-o", "junit_logging=no", f"--timeout={TEST_TIMEOUT}",
           "--timeout-method=signal"]
    if DESELECT.get(name):
        cmd += ["-k", " and ".join(f"not {t}" for t in DESELECT[name])]
    if mode.startswith("patchkit"):
        cmd += ["--patchkit", f"--patchkit-report={out}.json", "--patchkit-hang=20",
                *PATCHKIT_ARGS.get(name, [])]
    if mode.endswith("-n 2"):
        cmd += ["-n", "2"]
    return cmd


def _run(cmd: list[str], cwd: Path, out: Path, timeout: float, grace: float) -> Run:
    """Run one suite; stop it when it hangs after writing its results."""
    xml = Path(f"{out}.xml")
    xml.unlink(missing_ok=True)
    start = time.perf_counter()
    with open(f"{out}.log", "wb") as log:
        proc = subprocess.Popen(_isolated(cmd), cwd=cwd, stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True, env={**os.environ, "PYTHONHASHSEED": "0"})
        run, finished_at = Run(), None
        while proc.poll() is None:
            time.sleep(0.2)
            now = time.perf_counter()
            if finished_at is None and xml.exists():
                finished_at = now
            if finished_at is not None and now - finished_at > grace:
                run.hung_at_exit = True
            elif now - start > timeout:
                run.timed_out = True
            else:
                continue
            _kill_tree(proc.pid)
            proc.wait()
    run.wall = (finished_at if run.hung_at_exit and finished_at else time.perf_counter()) - start
    _read_results(xml, run)
    summary = _UNKNOWN.search(Path(f"{out}.log").read_text(errors="replace"))
    run.unknown = int(summary.group(1)) if summary else 0
    return run


def _descendants(pid: int) -> list[int]:
    """*pid*'s child processes and theirs (Linux /proc)."""
    out: list[int] = []
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return out
    for task in tasks:
        try:
            with open(f"/proc/{pid}/task/{task}/children") as handle:
                children = [int(c) for c in handle.read().split()]
        except OSError:
            continue
        for child in children:
            out += [child, *_descendants(child)]
    return out


def _kill_tree(pid: int) -> None:
    """Stop a run and everything it started (xdist workers leave its process group)."""
    for victim in [pid, *_descendants(pid)]:
        try:
            os.kill(victim, signal.SIGKILL)
        except OSError:
            pass


def _read_results(xml: Path, run: Run) -> None:
    if not xml.exists():
        return
    root = ET.parse(xml).getroot()
    seen: set[str] = set()
    for case in root.iter("testcase"):  # a test with an error at teardown is listed twice
        test = f"{case.get('classname')}::{case.get('name')}"
        problem = case.find("failure")
        if problem is None:
            problem = case.find("error")
        if test not in seen and case.find("skipped") is None:
            run.tests += 1
        seen.add(test)
        if problem is None:
            continue
        if test not in run.failed:
            run.failed.append(test)
        text = (problem.get("message") or "") + "\n" + (problem.text or "")
        if "patchkit: this test blocked the gevent hub" not in text:
            continue
        for match in _SITE.finditer(text):
            file, line, function, package, callee = match.groups()
            site = f"{os.path.basename(file)}:{line} {function} [{package}" + \
                (f", {callee}" if callee else "") + "]"
            run.by_plugin.setdefault(site, []).append(test)


def _by_plugin(run: Run) -> int:
    """Tests failed by the plugin's findings."""
    return len({t for tests in run.by_plugin.values() for t in tests})


def _table(results: dict[str, dict[str, list[Run]]]) -> str:
    import statistics

    head = ("| suite | tests | failed: plain / gevent / --patchkit / --patchkit -n 2 | "
            "failing only under --patchkit (call sites) | wall vs plain: gevent / "
            "--patchkit / -n 2 |")
    lines = [head, "|---|---|---|---|---|"]
    for name, runs in results.items():
        first = {mode: rs[0] for mode, rs in runs.items()}
        fails = " / ".join(
            f"{len(first[m].failed)}"
            + (f" ({_by_plugin(first[m])} by patchkit"
               + (f"; {first[m].unknown} unknown sites" if first[m].unknown else "") + ")"
               if m.startswith("patchkit") else "")
            + (" (no test ran)" if not first[m].tests else "")
            + (" (hung at exit)" if first[m].hung_at_exit else "")
            + (" (timed out)" if first[m].timed_out else "") for m in MODES)
        base = set(first["plain"].failed) | set(first["gevent"].failed)
        sites: dict[str, set[str]] = {}
        for mode in ("patchkit", "patchkit -n 2"):
            for site, tests in first[mode].by_plugin.items():
                new = {t for t in tests if t not in base}
                if new:
                    sites.setdefault(site, set()).update(new)
        described = "; ".join(f"{site}: {len(tests)} test{'s' * (len(tests) != 1)}"
                              for site, tests in sorted(sites.items())) or "none"
        plain = statistics.median(r.wall for r in runs["plain"])
        ratios = " / ".join(f"{statistics.median(r.wall for r in runs[m]) / plain:.2f}"
                            for m in MODES[1:])
        lines.append(f"| {name} | {first['plain'].tests} | {fails} | {described} | "
                     f"{ratios} (plain {plain:.0f} s) |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workdir", type=Path,
                        default=Path(tempfile.gettempdir()) / "patchkit-bench-suites")
    parser.add_argument("--suites", default=",".join(SUITES),
                        help=f"comma-separated, of {', '.join(SUITES)}")
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--timeout", type=float, default=600.0, help="seconds per run")
    parser.add_argument("--exit-grace", type=float, default=45.0,
                        help="seconds a run may take to exit after writing its results")
    args = parser.parse_args(argv)
    names = [n for n in args.suites.split(",") if n]
    unknown = [n for n in names if n not in SUITES]
    if unknown:
        parser.error(f"unknown suite {unknown[0]!r}; choose from {', '.join(SUITES)}")
    args.workdir.mkdir(parents=True, exist_ok=True)
    python = _venv(args.workdir)
    results: dict[str, dict[str, list[Run]]] = {}
    for name in names:
        version = SUITES[name][0]
        copies = _copies(_sdist(python, args.workdir, name, version), args.workdir, name)
        results[name] = {mode: [] for mode in MODES}
        for round_ in range(args.rounds):
            turn = round_ % len(MODES)
            for mode in MODES[turn:] + MODES[:turn]:
                out = args.workdir / "out" / f"{name}-{mode.replace(' ', '')}-{round_}"
                out.parent.mkdir(parents=True, exist_ok=True)
                cwd = copies["gevent" if mode == "gevent" else "plain"]
                run = _run(_command(python, name, mode, out), cwd, out, args.timeout,
                           args.exit_grace)
                results[name][mode].append(run)
                print(f"{name} {version} [{mode}]: {run.tests} tests, {len(run.failed)} "
                      f"failed, {run.wall:.1f} s"
                      + (", hung at exit" if run.hung_at_exit else "")
                      + (", timed out" if run.timed_out else ""), flush=True)
    print()
    print(_table(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
