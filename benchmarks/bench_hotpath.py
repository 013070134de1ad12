"""Hot path: an echo workload on patched sockets, patchkit.patch_all() vs gevent.monkey.patch_all().

Run: python -m benchmarks.bench_hotpath [--quick]
Target (issue 6): ratio 1.00 +- noise -- patchkit must add nothing to a patched call.

Each side is a fresh process (``benchmarks/_workers.py echo-inproc``) that patches on its
first line, then runs the same blocking-style program: a thread-per-connection echo server
and N client threads doing M round trips each over loopback, auditing off. The child times
the workload only (not interpreter start or patching: that is bench_startup), takes the
median of several runs after a warm-up run, and the parent interleaves the two sides.
A third process runs in every round for the noise floor: plain gevent again (an A/A
comparison, gevent over gevent, whose spread is what "1.00 +- noise" means on this machine).
The unpatched, plain-threads side of this program is bench_scale's business.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
from pathlib import Path

from ._common import PY, comparison_dict, interleave

WORKERS = str(Path(__file__).resolve().with_name("_workers.py"))


def run_worker(mode: str, clients: int, trips: int, repeats: int) -> float:
    proc = subprocess.run([PY, WORKERS, "echo-inproc", mode, str(clients), str(trips),
                           str(repeats)], capture_output=True, text=True, timeout=300)
    if proc.returncode != 0:
        raise RuntimeError(f"hot-path worker ({mode}) failed:\n{proc.stderr[-2000:]}")
    return float(json.loads(proc.stdout.strip().splitlines()[-1])["seconds"])


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer rounds, for CI smoke")
    parser.add_argument("--clients", type=int, default=100)
    parser.add_argument("--trips", type=int, default=200, help="round trips per client")
    args = parser.parse_args(argv)
    rounds, repeats, trips, warmup = (2, 1, 30, 0) if args.quick else (12, 3, args.trips, 1)
    clients = args.clients
    control: list[float] = []

    def gevent_side() -> float:
        return run_worker("gevent", clients, trips, repeats)

    def patchkit_side() -> float:
        seconds = run_worker("patchkit", clients, trips, repeats)
        control.append(run_worker("gevent", clients, trips, repeats))  # A/A: noise floor
        return seconds

    result = interleave("echo, patchkit.patch_all()", "gevent.monkey.patch_all()",
                        gevent_side, patchkit_side, rounds, warmup=warmup)
    del control[:-rounds]  # drop the warm-up rounds' control runs
    total = clients * trips
    print(f"hot path: {clients} clients x {trips} round trips = {total:,} per run over loopback, "
          f"auditing off, median of {repeats} runs per process, {rounds} interleaved rounds")
    print(result.line())
    cand, base = statistics.median(result.cand_times), statistics.median(result.base_times)
    aa = [c / b for b, c in zip(result.base_times, control)]
    aa_ratio = statistics.median(aa)
    print(f"  round trips/s: patchkit {total / cand:,.0f}, gevent {total / base:,.0f}; "
          f"A/A control (gevent again / gevent): median pairwise {aa_ratio:.3f}, "
          f"range {min(aa):.3f}-{max(aa):.3f}")
    return comparison_dict(result, target="1.00 +- noise", round_trips=total,
                           patchkit_trips_per_s=total / cand, gevent_trips_per_s=total / base,
                           aa_control_ratio=aa_ratio, aa_control_ratios=aa,
                           pairwise_ratios=[c / b for b, c in zip(result.base_times,
                                                                  result.cand_times)])


if __name__ == "__main__":
    main()
