"""Run patchkit's benchmark suite: every case, side by side, with its ratio against its baseline.

    python -m benchmarks                     # every case, full (~10 minutes on 2 cores)
    python -m benchmarks --quick             # every case, small (< 1 minute; CI smoke)
    python -m benchmarks startup hotpath     # some cases
    python -m benchmarks --json results.json # also write the results as JSON

Each case is also runnable alone: ``python -m benchmarks.bench_<case> [--quick]``.
Ratios are medians of per-round ratios, candidate over baseline, A and B interleaved.
"""

from __future__ import annotations

import argparse
import datetime
import importlib
import json
import math
import os
import platform
import sys
import time
import traceback
from pathlib import Path

# case -> (module, what the ratio means)
CASES = {
    "startup": "benchmarks.bench_startup",
    "hotpath": "benchmarks.bench_hotpath",
    "audit": "benchmarks.bench_audit",
    "scale": "benchmarks.bench_scale",
    "plugin": "benchmarks.bench_plugin",
    "static": "benchmarks.bench_static",
    "gunicorn": "benchmarks.bench_gunicorn",
    "monitor": "benchmarks.bench_monitor",
}


def machine() -> dict:
    import gevent
    import greenlet

    uname = platform.uname()
    return {
        "cpus": os.cpu_count(), "machine": uname.machine, "system": f"{uname.system} {uname.release}",
        "python": platform.python_version(), "gevent": gevent.__version__,
        "greenlet": greenlet.__version__,
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "loadavg_start": list(os.getloadavg()),
    }


def ratio_line(case: str, result: dict) -> str:
    ratio = result.get("ratio")
    shown = f"{ratio:.3f}" if isinstance(ratio, (int, float)) and math.isfinite(ratio) else "n/a"
    target = f"; target {result['target']}" if result.get("target") else ""
    return f"{case}: ratio {shown} -- {result.get('name', case)} vs {result.get('baseline', '?')}{target}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("cases", nargs="*", metavar="CASE",
                        help=f"cases to run (default: all): {', '.join(CASES)}")
    parser.add_argument("--quick", action="store_true", help="small runs, < 1 minute in total")
    parser.add_argument("--json", type=Path, metavar="PATH", help="write the results here")
    args = parser.parse_args(argv)
    unknown = [case for case in args.cases if case not in CASES]
    if unknown:
        parser.error(f"unknown case(s) {', '.join(unknown)}; choose from {', '.join(CASES)}")
    selected = args.cases or list(CASES)
    info = machine()
    print(f"patchkit benchmarks{' (quick)' if args.quick else ''}: {info['cpus']} CPUs "
          f"{info['machine']}, Python {info['python']}, gevent {info['gevent']}, "
          f"{info['date']}, load average {info['loadavg_start'][0]:.2f}", flush=True)
    results: dict[str, dict] = {}
    failed = []
    started = time.perf_counter()
    for case in selected:
        print(f"\n=== {case} ({CASES[case]}) ===", flush=True)
        case_start = time.perf_counter()
        try:
            module = importlib.import_module(CASES[case])
            result = module.main(["--quick"] if args.quick else [])
        except (Exception, SystemExit) as exc:  # one broken case must not hide the others
            traceback.print_exc()
            failed.append(case)
            result = {"error": f"{type(exc).__name__}: {exc}"}
        result["elapsed_s"] = time.perf_counter() - case_start
        results[case] = result
        sys.stdout.flush()
    info["loadavg_end"] = list(os.getloadavg())
    total = time.perf_counter() - started
    print(f"\n=== summary ({total:.1f} s) ===")
    for case, result in results.items():
        if "error" in result:
            print(f"{case}: FAILED -- {result['error']}")
        else:
            print(ratio_line(case, result))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"machine": info, "quick": args.quick,
                                         "command": " ".join(["python -m benchmarks", *(argv or sys.argv[1:])]),
                                         "elapsed_s": total, "cases": results},
                                        indent=2, default=str) + "\n")
        print(f"results written to {args.json}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
