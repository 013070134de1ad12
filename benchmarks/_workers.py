"""Child-process workloads for bench_hotpath and bench_scale, run as a script:

    python benchmarks/_workers.py KIND MODE [ARGS ...]

MODE is how the process is prepared before anything else is imported:
``threads`` (nothing: plain OS threads), ``patchkit`` (``patchkit.patch_all()``) or
``gevent`` (``gevent.monkey.patch_all()``). The program after that is the same plain,
blocking-style code in every mode. Each worker prints one JSON line on stdout.

KIND:
  echo-inproc CLIENTS TRIPS REPEATS     server and clients in this process (hot path)
  server CONNECTIONS DELAY_S            thread-per-connection echo server; prints its port
  client PORT CLIENTS TRIPS [BUDGET_S]  N client threads, M round trips each, within BUDGET_S
  sleep TASKS SLEEPS SLEEP_S            N threads each calling time.sleep SLEEPS times
"""

import sys

KIND, MODE = sys.argv[1], sys.argv[2]
if MODE == "patchkit":
    import patchkit

    patchkit.patch_all()
elif MODE == "gevent":
    from gevent import monkey

    monkey.patch_all()
elif MODE != "threads":
    raise SystemExit(f"unknown mode {MODE!r}")

import json  # noqa: E402  (after patching, like a real program's first line)
import os  # noqa: E402
import socket  # noqa: E402
import statistics  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402

from _common import peak_rss_mib, raise_nofile  # noqa: E402  (run as a script: its folder is on sys.path)

STACK = 256 * 1024  # thread stack: 10,000 OS threads with the 8 MiB default is 80 GiB of address space
IO_TIMEOUT = 60.0  # no socket operation may wait longer than this: every run ends
PAYLOAD = b"x" * 32



def _emit(**figures: object) -> None:
    figures.update(mode=MODE, peak_rss_mib=peak_rss_mib(), pid=os.getpid())
    print(json.dumps(figures), flush=True)


def _echo(conn: socket.socket, delay: float) -> None:
    with conn:
        conn.settimeout(IO_TIMEOUT)
        while True:
            data = conn.recv(1024)
            if not data:
                return
            if delay:
                time.sleep(delay)
            conn.sendall(data)


def _join_all(threads: list, deadline: float) -> None:
    """Join every thread, but all of them together wait no longer than *deadline*."""
    for thread in threads:
        thread.join(max(0.0, deadline - time.perf_counter()))


def _serve(listener: socket.socket, connections: int, delay: float) -> int:
    """Accept up to *connections* connections, a thread each (stopping when none arrives for
    IO_TIMEOUT); return the number accepted once their handlers are done."""
    handlers = []
    listener.settimeout(IO_TIMEOUT)
    for _ in range(connections):
        try:
            conn, _ = listener.accept()
        except TimeoutError:
            break
        handler = threading.Thread(target=_echo, args=(conn, delay), daemon=True)
        handler.start()
        handlers.append(handler)
    _join_all(handlers, time.perf_counter() + IO_TIMEOUT)
    return len(handlers)


def _listener(backlog: int) -> socket.socket:
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))
    listener.listen(backlog)
    return listener


def _clients(port: int, clients: int, trips: int, budget: float = 600.0) -> dict:
    """Start *clients* threads; each connects, waits for all, then does *trips* round trips.

    Everything stops after *budget* seconds: a client stops between round trips and the
    joins share one deadline, so the figures then count the round trips completed."""
    deadline = time.perf_counter() + budget
    lock = threading.Lock()
    connected = [0]
    completed = [0] * clients
    all_connected = threading.Event()
    go = threading.Event()
    failures: list[str] = []

    def client(index: int) -> None:
        try:
            sock = socket.create_connection(("127.0.0.1", port), timeout=IO_TIMEOUT)
        except OSError as exc:
            failures.append(repr(exc))
            sock = None
        with lock:
            connected[0] += 1
            if connected[0] == clients:
                all_connected.set()
        if sock is None:
            return
        with sock:
            go.wait(max(0.0, deadline - time.perf_counter()))
            try:
                for _ in range(trips):
                    if time.perf_counter() > deadline:
                        return
                    sock.sendall(PAYLOAD)
                    received = 0
                    while received < len(PAYLOAD):
                        chunk = sock.recv(1024)
                        if not chunk:
                            raise ConnectionError("server closed")
                        received += len(chunk)
                    completed[index] += 1
            except OSError as exc:
                failures.append(repr(exc))

    start = time.perf_counter()
    threads = [threading.Thread(target=client, args=(i,), daemon=True) for i in range(clients)]
    for thread in threads:
        thread.start()
    all_connected.wait(max(0.0, deadline - time.perf_counter()))
    connected_at = time.perf_counter()
    go.set()
    _join_all(threads, deadline + 1.0)
    end = time.perf_counter()
    done = sum(completed)
    return {"wall_s": end - start, "connect_s": connected_at - start,
            "trips_s": end - connected_at, "round_trips": done,
            "planned_round_trips": clients * trips, "timed_out": done < clients * trips,
            "budget_s": budget, "failures": len(failures),
            "first_failure": failures[0] if failures else None}


def echo_inproc(clients: int, trips: int, repeats: int) -> None:
    """Hot path: one process, a server thread and *clients* client threads, no delay."""
    runs = []
    for index in range(repeats + 1):  # the first run warms up
        listener = _listener(clients + 16)
        port = listener.getsockname()[1]
        server = threading.Thread(target=_serve, args=(listener, clients, 0.0), daemon=True)
        server.start()
        result = _clients(port, clients, trips)
        server.join(IO_TIMEOUT)
        listener.close()
        if result["failures"]:
            raise SystemExit(f"echo failed: {result['first_failure']}")
        if index:
            runs.append(result["wall_s"])
    _emit(seconds=statistics.median(runs), runs=runs)


def server(connections: int, delay: float) -> None:
    raise_nofile()
    threading.stack_size(STACK)
    listener = _listener(min(connections + 16, 65535))
    print(listener.getsockname()[1], flush=True)
    accepted = _serve(listener, connections, delay)
    listener.close()
    _emit(connections=accepted)


def client(port: int, clients: int, trips: int, budget: float) -> None:
    nofile = raise_nofile()
    threading.stack_size(STACK)
    result = _clients(port, clients, trips, budget)
    _emit(nofile=nofile, **result)


def sleep(tasks: int, sleeps: int, seconds: float) -> None:
    threading.stack_size(STACK)

    def task() -> None:
        for _ in range(sleeps):
            time.sleep(seconds)

    start = time.perf_counter()
    threads = [threading.Thread(target=task, daemon=True) for _ in range(tasks)]
    for thread in threads:
        thread.start()
    _join_all(threads, start + IO_TIMEOUT)
    _emit(wall_s=time.perf_counter() - start, alive=sum(t.is_alive() for t in threads))


if __name__ == "__main__":
    args = sys.argv[3:]
    if KIND == "echo-inproc":
        echo_inproc(int(args[0]), int(args[1]), int(args[2]))
    elif KIND == "server":
        server(int(args[0]), float(args[1]))
    elif KIND == "client":
        client(int(args[0]), int(args[1]), int(args[2]), float(args[3]) if len(args) > 3 else 600.0)
    elif KIND == "sleep":
        sleep(int(args[0]), int(args[1]), float(args[2]))
    else:
        raise SystemExit(f"unknown kind {KIND!r}")
