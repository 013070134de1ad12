"""Audit overhead and detection accuracy.

Overhead: a cooperative, I/O-heavy echo workload (hundreds of clients, tens of
thousands of loopback round trips) timed bare, under ``python -m patchkit.audit``,
and under gevent's monitor thread (``GEVENT_MONITOR_THREAD_ENABLE``). Each run is
a fresh process; modes are interleaved round by round, and the result is the
median time per mode and the median of the per-round ratios to bare. Target
<= 1.10; gevent's monitor costs about 1.035 on such a workload.

Accuracy: blocks of known length (20-500 ms) made with the original time.sleep,
a ctypes usleep and a CPU loop, each from its own line, audited; the reported
``max_s`` of each line is compared with the duration measured around the call.
Target error <= 5 ms.

    python benchmarks/bench_audit.py            # full: ~2 minutes
    python benchmarks/bench_audit.py --quick    # < 30 s
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve()
ROOT = HERE.parents[1]
BLOCKS_MS = (20, 50, 100, 200, 500)
METHODS = ("sleep", "usleep", "cpu")


# --- workers (run in child processes) -------------------------------------------------

def echo_worker(clients: int, rounds: int, repeats: int) -> None:
    """Run the echo workload *repeats* times; print the median wall and CPU seconds per run."""
    import patchkit

    patchkit.patch_all()
    import socket

    import gevent
    from gevent.server import StreamServer

    def handle(sock: socket.socket, address: object) -> None:
        while True:
            data = sock.recv(1024)
            if not data:
                return
            sock.sendall(data)

    def client(port: int) -> None:
        with socket.create_connection(("127.0.0.1", port)) as sock:
            for _ in range(rounds):
                sock.sendall(b"x" * 32)
                sock.recv(1024)

    server = StreamServer(("127.0.0.1", 0), handle, backlog=clients + 16)
    server.start()
    wall, cpu = [], []
    for index in range(repeats + 1):
        start, start_cpu = time.perf_counter(), time.process_time()
        gevent.joinall([gevent.spawn(client, server.server_port) for _ in range(clients)],
                       raise_error=True)
        if index:  # the first run warms up
            wall.append(time.perf_counter() - start)
            cpu.append(time.process_time() - start_cpu)
    server.stop()
    print(json.dumps({"seconds": statistics.median(wall), "cpu": statistics.median(cpu)}))


_BLOCKS_SOURCE = '''
import ctypes, time
import patchkit
original_sleep = patchkit.get_original("time", "sleep")
libc = ctypes.CDLL(None)
'''


def _blocks_module() -> str:
    lines = [_BLOCKS_SOURCE]
    for method in METHODS:
        for ms in BLOCKS_MS:
            call = {"sleep": f"original_sleep({ms / 1000})", "usleep": f"libc.usleep({ms * 1000})",
                    "cpu": f"deadline = time.perf_counter() + {ms / 1000}\n"
                           "    while time.perf_counter() < deadline:\n        pass"}[method]
            lines.append(f"def {method}_{ms}():\n    {call}\n")
    return "\n".join(lines)


def blocks_worker() -> None:
    """Make each known block once, in its own greenlet; print the measured durations."""
    import patchkit

    patchkit.patch_all()
    import gevent

    import bench_blocks  # written next to this file by the parent

    measured = {}

    def timed(name: str) -> None:
        start = time.perf_counter()
        getattr(bench_blocks, name)()
        measured[name] = time.perf_counter() - start

    for method in METHODS:
        for ms in BLOCKS_MS:
            gevent.spawn(timed, f"{method}_{ms}").join()
            gevent.sleep(0.01)
    print(json.dumps(measured))


# --- parent ---------------------------------------------------------------------------

def _env(extra: dict[str, str] | None = None) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    env.pop("GEVENT_MONITOR_THREAD_ENABLE", None)
    env["PYTHONHASHSEED"] = "0"  # same dict layouts in every process
    env.update(extra or {})
    return env


def _run_json(command: list[str], env: dict[str, str], cwd: str | None = None) -> dict:
    proc = subprocess.run(command, capture_output=True, text=True, env=env, cwd=cwd, timeout=300)
    if proc.returncode != 0:
        raise SystemExit(f"{command} failed ({proc.returncode}):\n{proc.stderr}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def overhead(rounds: int, clients: int, trips: int, repeats: int) -> dict[str, float]:
    worker = [str(HERE), "--worker", "echo", "--clients", str(clients),
              "--rounds", str(trips), "--repeats", str(repeats)]
    modes = {
        "bare": ([sys.executable, *worker], _env()),
        "audit": ([sys.executable, "-m", "patchkit.audit", "--quiet", *worker], _env()),
        "gevent monitor": ([sys.executable, *worker],
                           _env({"GEVENT_MONITOR_THREAD_ENABLE": "1",
                                 "PYTHONWARNINGS": "ignore"})),
    }
    wall: dict[str, list[float]] = {mode: [] for mode in modes}
    cpu: dict[str, list[float]] = {mode: [] for mode in modes}
    for index in range(rounds):
        order = list(modes) if index % 2 == 0 else list(reversed(modes))
        for mode in order:
            command, env = modes[mode]
            result = _run_json(command, env)
            wall[mode].append(result["seconds"])
            cpu[mode].append(result["cpu"])
    print(f"\noverhead: {clients} clients x {trips} round trips = {clients * trips:,} per run, "
          f"median of {repeats} runs per process, {rounds} interleaved rounds")
    print(f"  {'mode':<16}{'wall s':>9}{'ratio':>8}{'cpu s':>9}{'ratio':>8}")
    ratios = {}
    for mode in modes:
        wall_ratio = statistics.median(v / b for v, b in zip(wall[mode], wall["bare"]))
        cpu_ratio = statistics.median(v / b for v, b in zip(cpu[mode], cpu["bare"]))
        ratios[mode] = wall_ratio
        print(f"  {mode:<16}{statistics.median(wall[mode]):>9.4f}{wall_ratio:>8.3f}"
              f"{statistics.median(cpu[mode]):>9.4f}{cpu_ratio:>8.3f}")
    return ratios


def accuracy() -> float:
    with tempfile.TemporaryDirectory() as folder:
        Path(folder, "bench_blocks.py").write_text(_blocks_module())
        report = Path(folder, "report.json")
        measured = _run_json([sys.executable, "-m", "patchkit.audit", "--quiet", "--threshold",
                              "0.01", "--json", str(report), str(HERE), "--worker", "blocks"],
                             _env({"PYTHONPATH": os.pathsep.join([folder, str(ROOT)])}), folder)
        findings = json.loads(report.read_text())["findings"]
    by_function = {f["function"]: f for f in findings
                   if f["kind"] == "blocking" and f["file"] and "bench_blocks" in f["file"]}
    print("\naccuracy: reported vs measured block (ms)")
    print(f"  {'block':<12}{'measured':>10}{'reported':>10}{'error':>8}")
    worst = 0.0
    for name, actual in measured.items():
        finding = by_function.get(name)
        reported = finding["max_s"] if finding else float("nan")
        error = abs(reported - actual) * 1000 if finding else float("inf")
        worst = max(worst, error)
        print(f"  {name:<12}{actual * 1000:>10.2f}{reported * 1000:>10.2f}{error:>8.2f}")
    print(f"  worst error {worst:.2f} ms (target <= 5 ms)")
    return worst


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small run, under 30 s")
    parser.add_argument("--worker", choices=["echo", "blocks"], help=argparse.SUPPRESS)
    parser.add_argument("--clients", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=100, help="round trips per client")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--processes", type=int, default=9, help="interleaved rounds of modes")
    args = parser.parse_args()
    if args.worker == "echo":
        return echo_worker(args.clients, args.rounds, args.repeats)
    if args.worker == "blocks":
        return blocks_worker()
    started = time.perf_counter()
    if args.quick:
        overhead(rounds=3, clients=200, trips=50, repeats=2)
    else:
        overhead(rounds=args.processes, clients=args.clients, trips=args.rounds,
                 repeats=args.repeats)
    accuracy()
    print(f"\n({time.perf_counter() - started:.1f} s)")


if __name__ == "__main__":
    main()
