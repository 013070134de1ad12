"""Why patch at all: one blocking-style program, plain OS threads vs patchkit.patch_all() greenlets.

Run: python -m benchmarks.bench_scale [--quick] [--plot PATH] [--sizes 200,2000,10000]

The program (``benchmarks/_workers.py``) is written the ordinary blocking way -- one
``threading.Thread`` per client and per connection, blocking ``socket`` calls, ``time.sleep``.
Run unpatched it uses OS threads; with ``patchkit.patch_all()`` on its first line the same code
runs on greenlets. Two workloads, at N = 200, 2,000 and 10,000:

* echo: a thread-per-connection echo server process that sleeps DELAY before each reply, and
  a client process starting N client threads that each connect, wait until all are connected,
  then do M round trips over loopback. Server and client run in the same mode, in separate
  processes (10,000 connections need 20,000 descriptors; each process raises its
  RLIMIT_NOFILE soft limit to the hard limit). Reported: the client's wall time (thread start,
  connect, round trips, join), round trips/s over the round-trip phase, and the peak RSS of
  client + server (``resource.getrusage`` in each child).
* sleep: N threads each calling ``time.sleep(0.01)`` 10 times: wall time and peak RSS.

Threads get a 256 KiB stack (``threading.stack_size``) in both modes so 10,000 of them fit.
Modes alternate in each round (3 rounds) and every run is a fresh process; figures are medians and the
ratio is the median of the per-round ratios (greenlets over threads for throughput, threads
over greenlets for wall time, so > 1 means greenlets are better). Every socket operation has a
60 s timeout, an echo client stops after a budget (90 s; its completed round trips are then
what is counted, and the table says so) and every child has a 300 s timeout: a run always ends.

The suite also draws throughput and memory against N (``docs/images/scale.png``; needs
matplotlib, the ``bench`` dependency group).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import tempfile
from pathlib import Path

from ._common import PY

WORKERS = str(Path(__file__).resolve().with_name("_workers.py"))
ROOT = Path(__file__).resolve().parents[1]
DEFAULT_PLOT = ROOT / "docs" / "images" / "scale.png"
MODES = {"threads": "threads", "greenlets": "patchkit"}  # label -> _workers.py mode
CHILD_TIMEOUT = 300


def _last_json(text: str) -> dict:
    return json.loads(text.strip().splitlines()[-1])


def run_echo(mode: str, clients: int, trips: int, delay: float, budget: float) -> dict:
    server = subprocess.Popen([PY, WORKERS, "server", mode, str(clients), str(delay)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert server.stdout is not None
        port_line = server.stdout.readline()  # the server prints its port first, then waits
        if not port_line.strip().isdigit():
            raise RuntimeError(f"echo server ({mode}) did not start: {port_line!r} "
                               f"{server.stderr.read() if server.poll() is not None else ''}")
        client = subprocess.run([PY, WORKERS, "client", mode, port_line.strip(), str(clients),
                                 str(trips), str(budget)], capture_output=True, text=True,
                                timeout=CHILD_TIMEOUT)
        if client.returncode != 0:
            raise RuntimeError(f"echo client ({mode}, N={clients}) failed:\n{client.stderr[-2000:]}")
        out, err = server.communicate(timeout=CHILD_TIMEOUT)
        if server.returncode != 0:
            raise RuntimeError(f"echo server ({mode}, N={clients}) failed:\n{err[-2000:]}")
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()
    result = _last_json(client.stdout)
    served = _last_json(out)
    result["client_rss_mib"] = result["peak_rss_mib"]
    result["server_rss_mib"] = served["peak_rss_mib"]
    result["peak_rss_mib"] = result["client_rss_mib"] + result["server_rss_mib"]
    result["trips_per_s"] = result["round_trips"] / result["trips_s"]
    return result


def run_sleep(mode: str, tasks: int, sleeps: int, seconds: float) -> dict:
    proc = subprocess.run([PY, WORKERS, "sleep", mode, str(tasks), str(sleeps), str(seconds)],
                          capture_output=True, text=True, timeout=CHILD_TIMEOUT)
    if proc.returncode != 0:
        raise RuntimeError(f"sleep worker ({mode}, N={tasks}) failed:\n{proc.stderr[-2000:]}")
    return _last_json(proc.stdout)


def _interleaved(run, rounds: int) -> dict[str, list[dict]]:
    runs: dict[str, list[dict]] = {label: [] for label in MODES}
    for index in range(rounds):
        order = list(MODES) if index % 2 == 0 else list(reversed(MODES))
        for label in order:
            runs[label].append(run(MODES[label]))
    return runs


def _median(runs: list[dict], key: str) -> float:
    return statistics.median(run[key] for run in runs)


def _pairwise(runs: dict[str, list[dict]], key: str, higher_is_better: bool) -> float:
    pairs = zip(runs["threads"], runs["greenlets"])
    if higher_is_better:
        return statistics.median(g[key] / t[key] for t, g in pairs)
    return statistics.median(t[key] / g[key] for t, g in pairs)


def measure(sizes: list[int], rounds: int, trips: int, delay: float, sleeps: int,
            sleep_s: float, budget: float) -> list[dict]:
    rows = []
    for n in sizes:
        echo = _interleaved(lambda mode, n=n: run_echo(mode, n, trips, delay, budget), rounds)
        rows.append({
            "workload": "echo", "n": n, "trips_per_client": trips, "server_delay_s": delay,
            "rounds": rounds,
            **{f"{label}_{key}": _median(echo[label], key) for label in MODES
               for key in ("wall_s", "connect_s", "trips_s", "trips_per_s", "peak_rss_mib",
                           "client_rss_mib", "server_rss_mib")},
            **{f"{label}_failures": sum(r["failures"] for r in echo[label]) for label in MODES},
            **{f"{label}_timed_out": sum(bool(r["timed_out"]) for r in echo[label])
               for label in MODES},
            "budget_s": budget,
            "throughput_ratio": _pairwise(echo, "trips_per_s", True),
            "wall_ratio": _pairwise(echo, "wall_s", False),
            "runs": echo,
        })
        _print_row(rows[-1])
        slept = _interleaved(lambda mode, n=n: run_sleep(mode, n, sleeps, sleep_s), rounds)
        rows.append({
            "workload": "sleep", "n": n, "sleeps_per_task": sleeps, "sleep_s": sleep_s,
            "rounds": rounds,
            **{f"{label}_{key}": _median(slept[label], key) for label in MODES
               for key in ("wall_s", "peak_rss_mib")},
            "wall_ratio": _pairwise(slept, "wall_s", False),
            "runs": slept,
        })
        _print_row(rows[-1])
    return rows


HEADER = (f"  {'workload':<8}{'N':>7} | {'threads: wall s':>15}{'trips/s':>10}{'RSS MiB':>9} | "
          f"{'greenlets: wall s':>17}{'trips/s':>10}{'RSS MiB':>9} | {'thru x':>7}{'wall x':>7}")


def _print_row(row: dict) -> None:
    def side(label: str) -> str:
        trips = f"{row[label + '_trips_per_s']:>10,.0f}" if row["workload"] == "echo" else f"{'-':>10}"
        failures = row.get(label + "_failures")
        stopped = row.get(label + "_timed_out")
        mark = (f" ({failures} errors)" if failures else "") + \
               (f" ({stopped} run(s) incomplete: errors or the {row['budget_s']:g} s budget)"
                if stopped else "")
        return f"{row[label + '_wall_s']:>{15 if label == 'threads' else 17}.3f}{trips}" \
               f"{row[label + '_peak_rss_mib']:>9.1f}{mark}"

    thru = f"{row['throughput_ratio']:>7.2f}" if "throughput_ratio" in row else f"{'-':>7}"
    print(f"  {row['workload']:<8}{row['n']:>7,} | {side('threads')} | {side('greenlets')} | "
          f"{thru}{row['wall_ratio']:>7.2f}", flush=True)


def plot(rows: list[dict], path: Path) -> Path | None:
    """Throughput, sleep wall time and peak RSS against N; None (and a message) without matplotlib."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("  plot skipped: matplotlib is not installed "
              "(pip install -e . --group bench, or pip install matplotlib)")
        return None
    echo = [r for r in rows if r["workload"] == "echo"]
    sleep = [r for r in rows if r["workload"] == "sleep"]
    styles = {"threads": ("tab:red", "s"), "greenlets": ("tab:blue", "o")}
    fig, (ax1, ax2, ax3) = plt.subplots(1, 3, figsize=(14, 4.4))
    for label, (color, marker) in styles.items():
        ax1.plot([r["n"] for r in echo], [r[f"{label}_trips_per_s"] for r in echo],
                 color=color, marker=marker, label=label)
        ax2.plot([r["n"] for r in sleep], [r[f"{label}_wall_s"] for r in sleep],
                 color=color, marker=marker, label=label)
        ax3.plot([r["n"] for r in echo], [r[f"{label}_peak_rss_mib"] for r in echo],
                 color=color, marker=marker, label=f"{label}, echo (client + server)")
        ax3.plot([r["n"] for r in sleep], [r[f"{label}_peak_rss_mib"] for r in sleep],
                 color=color, marker=marker, linestyle="--", label=f"{label}, sleep")
    if echo:
        trips, delay = echo[0]["trips_per_client"], echo[0]["server_delay_s"]
        ax1.set_title(f"echo: N clients x {trips} round trips\n({delay * 1000:g} ms server delay)"
                      " -- higher is better", fontsize=10)
    if sleep:
        ax2.set_title(f"sleep: N tasks x {sleep[0]['sleeps_per_task']} x "
                      f"time.sleep({sleep[0]['sleep_s']:g}) -- lower is better", fontsize=10)
    ax3.set_title("peak RSS -- lower is better", fontsize=10)
    for ax, ylabel in ((ax1, "round trips / s"), (ax2, "wall time (s)"), (ax3, "peak RSS (MiB)")):
        ax.set_xscale("log")
        ax.set_xlabel("N (concurrent clients / tasks)")
        ax.set_ylabel(ylabel)
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8)
    for ax in (ax1, ax2, ax3):
        ax.set_ylim(bottom=0)
    fig.suptitle("The same blocking-style program: plain threads vs patchkit.patch_all() greenlets "
                 "(medians, 2-core VM)", fontsize=11)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    print(f"  plot written to {path}")
    return path


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="N=200 only, one round, for CI smoke")
    parser.add_argument("--sizes", default="200,2000,10000", help="comma-separated N values")
    parser.add_argument("--rounds", type=int, default=3,
                        help="interleaved rounds per N")
    parser.add_argument("--trips", type=int, default=5, help="round trips per client (M)")
    parser.add_argument("--delay", type=float, default=0.001, help="server delay per reply (s)")
    parser.add_argument("--budget", type=float, default=90.0,
                        help="seconds an echo client run may take; then it stops and the round "
                             "trips completed are counted (default 90)")
    parser.add_argument("--plot", type=Path, default=None,
                        help=f"PNG to write (default {DEFAULT_PLOT.relative_to(ROOT)}; "
                             "a temporary file with --quick)")
    parser.add_argument("--no-plot", action="store_true")
    args = parser.parse_args(argv)
    sizes = [200] if args.quick else [int(n) for n in args.sizes.split(",")]
    rounds = 1 if args.quick else args.rounds
    trips = 5 if args.quick else args.trips
    print(f"scale: threads vs patchkit greenlets; echo = N clients x {trips} round trips "
          f"({args.delay * 1000:g} ms server delay), sleep = N tasks x 10 x time.sleep(0.01); "
          f"{rounds} interleaved round(s), medians")
    print("  thru x = greenlets/threads round trips/s; wall x = threads/greenlets wall time "
          "(> 1: greenlets better)")
    print(HEADER)
    rows = measure(sizes, rounds, trips, args.delay, sleeps=10, sleep_s=0.01,
                   budget=30.0 if args.quick else args.budget)
    plot_path = None
    if not args.no_plot:
        target = args.plot
        if target is None:
            target = (Path(tempfile.gettempdir()) / "patchkit-bench-scale.png" if args.quick
                      else DEFAULT_PLOT)
        plot_path = plot(rows, target)
    largest = max(sizes)
    echo_top = next(r for r in rows if r["workload"] == "echo" and r["n"] == largest)
    return {
        "name": f"greenlets (patchkit.patch_all()), echo round trips/s at N={largest:,}",
        "baseline": "plain threads",
        "ratio": echo_top["throughput_ratio"],
        "target": "> 1 (greenlets scale better)",
        "rows": rows,
        "plot": str(plot_path) if plot_path else None,
    }


if __name__ == "__main__":
    main()
