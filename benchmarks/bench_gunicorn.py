"""Audit overhead on a real server: gunicorn, 2 gevent workers, a small Flask app.

The app (``benchmarks/_gunicorn_app.py``) has one cooperative view. A client process
(``benchmarks/_http_load.py``, gevent, HTTP/1.1 keep-alive over loopback) opens its
connections, warms up (workers booting, first-request imports), then sends a fixed number
of requests, timed. Each round starts a fresh server per mode: bare ``python -m gunicorn``,
under ``python -m patchkit.audit --quiet -m gunicorn`` (every worker audited from its
fork on), and bare with gevent's monitor thread (``GEVENT_MONITOR_THREAD_ENABLE=1``, it
runs in each worker). Modes alternate, order flipped every round; the ratio is the median
of the per-round ratios of the timed phase's wall time to bare (= bare requests/s over
audited requests/s). Beside it, the workers' CPU seconds in the timed phase (read by the
client from ``/proc/<pid>/stat``), as a ratio the same way: what the audit costs the
workers, less sensitive than wall time to other processes on a busy machine. Issue 12
quotes ~1.1x for the single-process echo case.

    python -m benchmarks.bench_gunicorn            # full: ~1-2 minutes
    python -m benchmarks.bench_gunicorn --quick    # ~15 s (2 rounds, bare and audit)
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

from benchmarks._common import Comparison, comparison_dict

HERE = Path(__file__).resolve()
ROOT = HERE.parents[1]
APP = "benchmarks._gunicorn_app:app"
LOAD = HERE.with_name("_http_load.py")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _env(extra: dict[str, str] | None = None) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    for name in ("GEVENT_MONITOR_THREAD_ENABLE", "PATCHKIT_AUDIT_FOLLOW"):
        env.pop(name, None)
    env["PYTHONHASHSEED"] = "0"
    env.update(extra or {})
    return env


def _gunicorn_args(port: int) -> list[str]:
    import gunicorn

    args = ["-m", "gunicorn", "-k", "gevent", "-w", "2", "-b", f"127.0.0.1:{port}",
            "--graceful-timeout", "5", "--log-level", "warning"]
    if tuple(gunicorn.version_info) >= (27,):
        args.append("--no-control-socket")  # a fixed path in $HOME, shared by every run
    return [*args, APP]


MODES = {
    "bare": ([], {}),
    "audit": (["-m", "patchkit.audit", "--quiet"], {}),
    "gevent monitor": ([], {"GEVENT_MONITOR_THREAD_ENABLE": "1", "PYTHONWARNINGS": "ignore"}),
}


def _stop(server: subprocess.Popen[bytes]) -> None:
    server.send_signal(signal.SIGTERM)
    try:
        server.wait(30)
    except subprocess.TimeoutExpired:
        pass
    try:
        os.killpg(server.pid, signal.SIGKILL)  # a worker left behind, or a master that hung
    except ProcessLookupError:
        pass
    server.wait()


def _wait_for_workers(port: int, server: subprocess.Popen[bytes], workers: int = 2) -> None:
    """Send one-off requests until *workers* different pids answered: the master listens
    before its workers boot, and connections opened before the second worker runs would
    all go to the first."""
    import http.client

    seen: set[str] = set()
    deadline = time.monotonic() + 30
    while len(seen) < workers:
        if server.poll() is not None or time.monotonic() > deadline:
            raise SystemExit(f"gunicorn on {port}: {len(seen)} of {workers} workers answered")
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        try:
            conn.request("GET", "/", headers={"Connection": "close"})
            seen.add(conn.getresponse().read().decode().split()[-1])
        except OSError:
            time.sleep(0.05)
        finally:
            conn.close()


def one_run(mode: str, connections: int, warmup: int, requests: int) -> dict:
    """Start a server in *mode*, load it from a client process, stop it; the client's figures."""
    prefix, extra = MODES[mode]
    port = _free_port()
    server = subprocess.Popen([sys.executable, *prefix, *_gunicorn_args(port)], env=_env(extra),
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                              start_new_session=True)
    try:
        _wait_for_workers(port, server)
        client = subprocess.run([sys.executable, str(LOAD), str(port), str(connections),
                                 str(warmup), str(requests)],
                                capture_output=True, text=True, timeout=300, env=_env())
    finally:
        _stop(server)
    if client.returncode != 0:
        raise SystemExit(f"the load client failed ({mode}):\n{client.stderr}")
    result: dict = json.loads(client.stdout.strip().splitlines()[-1])
    if result["errors"]:
        raise SystemExit(f"{result['errors']} connection(s) failed ({mode}): {result}")
    return result


def measure(modes: list[str], rounds: int, connections: int, warmup: int,
            requests: int) -> dict[str, list[dict]]:
    """*rounds* interleaved rounds of every mode (order flipped every round)."""
    runs: dict[str, list[dict]] = {mode: [] for mode in modes}
    for index in range(rounds):
        for mode in (modes if index % 2 == 0 else list(reversed(modes))):
            runs[mode].append(one_run(mode, connections, warmup, requests))
    return runs


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small run, ~15 s")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument("--requests", type=int, default=200, help="timed, per connection")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    if args.quick:
        modes, rounds, connections, requests = ["bare", "audit"], 2, 20, 50
    else:
        modes, rounds = list(MODES), args.rounds
        connections, requests = args.connections, args.requests
    runs = measure(modes, rounds, connections, warmup=5, requests=requests)
    total = connections * requests
    seconds = {mode: [run["seconds"] for run in runs[mode]] for mode in modes}
    cpu = {mode: [run["server_cpu_s"] for run in runs[mode]] for mode in modes}
    print(f"\ngunicorn -k gevent -w 2, Flask, {connections} keep-alive connections x {requests} "
          f"requests = {total:,} per run, {rounds} interleaved rounds")
    print(f"  {'mode':<16}{'wall s':>9}{'req/s':>10}{'ratio':>8}{'worker cpu s':>14}{'ratio':>8}")
    comparisons, cpu_ratios = {}, {}
    for mode in modes:
        comparison = Comparison(f"gunicorn ({mode})", "gunicorn (bare)", seconds["bare"],
                                seconds[mode])
        comparisons[mode] = comparison
        cpu_ratios[mode] = Comparison(mode, "bare", cpu["bare"], cpu[mode]).median_pairwise_ratio
        median = statistics.median(seconds[mode])
        print(f"  {mode:<16}{median:>9.3f}{total / median:>10.0f}"
              f"{comparison.median_pairwise_ratio:>8.3f}{statistics.median(cpu[mode]):>14.3f}"
              f"{cpu_ratios[mode]:>8.3f}")
    for mode in modes:
        print(f"  connections per worker pid, {mode}: "
              f"{[sorted(run['connections_per_pid'].values()) for run in runs[mode]]}")
    print(f"\n({time.perf_counter() - started:.1f} s)")
    audit = comparisons["audit"]
    result = comparison_dict(audit, target="<= 1.10 vs bare (issue 12: ~1.1x single-process)",
                             connections=connections, requests_per_run=total,
                             requests_per_s={mode: total / statistics.median(seconds[mode])
                                             for mode in modes},
                             ratios={mode: comparisons[mode].median_pairwise_ratio
                                     for mode in modes},
                             worker_cpu_ratios=cpu_ratios,
                             runs=runs)
    result["name"] = "python -m patchkit.audit -m gunicorn (2 gevent workers, Flask)"
    return result


if __name__ == "__main__":
    main()
