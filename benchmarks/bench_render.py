"""What ``--render`` costs on a huge saved report: wall time, peak memory, output sizes.

Run: python -m benchmarks.bench_render [--findings N] [--events-each K] [--keep DIR]

Writes a synthetic ``patchkit.audit/2`` report of N findings (default 100,000; each
with a three-frame stack, K timed blocks and its pids, indented as ``--json`` writes
it), then runs ``python -m patchkit.audit --render big.json --html --sarif --json -q``
in a subprocess and prints its wall time, its peak RSS (``ru_maxrss`` of the child)
and the size of each file. Issue 22's figures for 100,000 findings: 149 s, 3.9 GB and
a 476 MB SARIF before the bounds; the target is under a minute and 500 MB.
Nothing is asserted; the figures are for the docs.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Iterator

ROOT = Path(__file__).resolve().parents[1]
_CALLEES = ["time.sleep", "socket.socket.recv", "ctypes.CDLL.usleep", None,
            "psycopg2.extensions.cursor.execute"]


def _finding(index: int, events_each: int, clock: float) -> tuple[dict[str, Any], float]:
    app = ROOT / "app"
    file = str(app / f"mod{index % 400}.py")
    events = []
    for _ in range(events_each):
        duration = 0.021 + (index * 7919 % 100) / 1000
        events.append({"start_s": round(clock, 6), "duration_s": duration, "pid": 4242})
        clock += duration + 0.003
    total = sum(e["duration_s"] for e in events)
    return {
        "kind": "blocking", "file": file, "line": 5 + index, "function": f"work{index}",
        "package": None if index % 3 else f"lib{index % 5}", "callee": _CALLEES[index % 5],
        "count": events_each, "total_s": round(total, 6),
        "max_s": max((e["duration_s"] for e in events), default=0.0),
        "module": None, "name": None, "original": None,
        "stack": [{"file": str(app / "main.py"), "line": 10 + index % 7, "function": "main"},
                  {"file": str(app / "jobs.py"), "line": 20 + index % 13,
                   "function": f"job{index % 13}"},
                  {"file": file, "line": 5 + index, "function": f"work{index}"}],
        "message": "a blocking call held the hub", "fix": "use gevent's threadpool",
        "events": events, "events_omitted": 0, "pids": [4242],
    }, clock


def _chunks(findings: int, events_each: int) -> Iterator[str]:
    head = {"schema": "patchkit.audit/2", "target": "app/main.py",
            "argv": ["app/main.py"], "exit_code": 0, "duration_s": 0.0,
            "patched": ["socket", "time"], "findings": []}
    text = json.dumps(head, indent=2)
    yield text[:text.rindex("[]")] + "["
    clock = 0.0
    for index in range(findings):
        finding, clock = _finding(index, events_each, clock)
        body = json.dumps(finding, indent=2).replace("\n", "\n    ")
        yield ("\n    " if index == 0 else ",\n    ") + body
    tail = {"stopped_by": None, "python": "3.11.7", "gevent": "24.2.1",
            "started_at": 1700000000.0,
            "processes": [{"pid": 4242, "ppid": 1, "role": "main", "argv": ["app/main.py"],
                           "exit_code": 0, "ended": True, "duration_s": clock + 0.5,
                           "started_s": 0.0, "patched": ["socket", "time"],
                           "findings": findings}]}
    yield "\n  ],\n" + json.dumps(tail, indent=2)[2:] + "\n"


def write_report(path: Path, findings: int, events_each: int) -> None:
    """A synthetic report of *findings* blocking findings, as ``--json`` would write it."""
    with open(path, "w", encoding="utf-8") as handle:
        handle.writelines(_chunks(findings, events_each))


def measure(path: Path, folder: Path) -> str:
    outputs = {"html": folder / "out.html", "sarif": folder / "out.sarif",
               "json": folder / "out.json"}
    argv = [sys.executable, "-m", "patchkit.audit", "--render", str(path), "-q"]
    for option, out in outputs.items():
        argv += [f"--{option}", str(out)]
    started = time.perf_counter()
    proc = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True)
    wall = time.perf_counter() - started
    peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    sizes = "  ".join(f"{option} {out.stat().st_size / 1e6:.1f} MB" if out.exists()
                      else f"{option} missing" for option, out in outputs.items())
    status = f"exit {proc.returncode}" + (f": {proc.stderr.strip()[-300:]}"
                                          if proc.returncode else "")
    return (f"input {path.stat().st_size / 1e6:.1f} MB  wall {wall:.1f} s  "
            f"peak RSS {peak_mb:.0f} MB  {sizes}  ({status})")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--findings", type=int, default=100_000)
    parser.add_argument("--events-each", type=int, default=3)
    parser.add_argument("--keep", metavar="DIR", help="write the files here and keep them")
    parser.add_argument("--quick", action="store_true", help="10,000 findings")
    args = parser.parse_args(argv)
    findings = 10_000 if args.quick else args.findings
    with tempfile.TemporaryDirectory() as temp:
        folder = Path(args.keep or temp)
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / "big.json"
        write_report(path, findings, args.events_each)
        print(f"{findings} findings, {args.events_each} event(s) each")
        print(measure(path, folder))
    return 0


if __name__ == "__main__":
    sys.exit(main())
