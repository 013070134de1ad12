"""Overhead of the pytest plugin: ~500 quick cooperative tests with and without --patchkit.

Run: python -m benchmarks.bench_plugin [--quick]
Target: ratio <= 1.15 (issue 4), <= 1.10 (issue 6). Both sides run the same generated suite
in a fresh pytest process, interleaved, with pytest's bytecode cache as on a developer's
machine (PYTHONDONTWRITEBYTECODE is cleared for the runs; a warm-up run fills the caches) and
patchkit compiled to bytecode as a regular install would be (the checkout is an editable one).

Two suites, both printed:

- **gevent project** (the headline): the suite's conftest.py calls
  ``gevent.monkey.patch_all()``, as gevent projects' suites do. With ``--patchkit`` the plugin
  patches first and the conftest's call is a no-op; the ratio is what adding ``--patchkit``
  to such a suite costs.
- **unpatched suite**: no conftest; the tests import gevent and run greenlets, nothing
  patches. Here ``--patchkit`` also pays for patching the process (importing gevent's
  socket, ssl, subprocess, threadpool... and gevent's own work in patch_thread).

Each test spawns a greenlet running a Python function and waits for it. (A greenlet running
only a C function -- ``gevent.spawn(sum, ...)`` -- costs ~10 us more under any Python
greenlet tracer on 3.11: the tracer's frame allocates the new greenlet's data stack, which
Python code in the greenlet would have allocated anyway.)
"""

from __future__ import annotations

import argparse
import os
import subprocess
import tempfile
import time
from pathlib import Path

from ._common import PY, Comparison, comparison_dict, compile_patchkit, interleave

FALSE_POSITIVES: list[str] = []

HEADER = "import gevent\n\n\ndef add(a, b):\n    return a + b\n"
TEST = """

def test_{i}():
    assert gevent.spawn(add, {i}, 1).get() == {i} + 1
"""
CONFTEST = "from gevent import monkey\n\nmonkey.patch_all()\n"
ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def make_suite(folder: Path, count: int, conftest: bool) -> None:
    folder.mkdir()
    per_file = 50
    for start in range(0, count, per_file):
        body = HEADER + "".join(
            TEST.format(i=i) for i in range(start, min(count, start + per_file)))
        (folder / f"test_gen_{start:04d}.py").write_text(body)
    if conftest:
        (folder / "conftest.py").write_text(CONFTEST)


def run_pytest(argv: list[str]) -> float:
    """Seconds for one pytest run; a failing run under --patchkit is a false positive."""
    start = time.perf_counter()
    proc = subprocess.run(argv, capture_output=True, text=True, env=ENV)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        if "--patchkit" not in argv:
            raise RuntimeError(f"the suite failed without --patchkit:\n{proc.stdout[-2000:]}")
        FALSE_POSITIVES.append(proc.stdout.splitlines()[-1] if proc.stdout else "?")
    return elapsed


def compare(folder: Path, label: str, count: int, rounds: int) -> Comparison:
    base = [PY, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:socket", str(folder)]
    return interleave(f"pytest --patchkit ({label})", "pytest",
                      lambda: run_pytest(base), lambda: run_pytest([*base, "--patchkit"]),
                      rounds, warmup=1)


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args(argv)
    rounds, count = (3, 200) if args.quick else (21, 500)
    compile_patchkit()
    with tempfile.TemporaryDirectory() as tmp:
        project, plain = Path(tmp, "project"), Path(tmp, "plain")
        make_suite(project, count, conftest=True)
        make_suite(plain, count, conftest=False)
        headline = compare(project, f"{count} tests, gevent project", count, rounds)
        unpatched = compare(plain, f"{count} tests, unpatched", count, rounds)
    print("pytest plugin overhead (whole pytest process, bytecode cached)")
    print(headline.line())
    print(unpatched.line())
    if FALSE_POSITIVES:
        print(f"  {len(FALSE_POSITIVES)} --patchkit run(s) failed a cooperative test "
              f"(false positives): {FALSE_POSITIVES}")
    return comparison_dict(headline, target="<= 1.10", tests=count,
                           false_positives=list(FALSE_POSITIVES),
                           unpatched_suite=comparison_dict(unpatched))


if __name__ == "__main__":
    main()
