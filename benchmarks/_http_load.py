"""HTTP/1.1 keep-alive load for bench_gunicorn, run as a script in its own process:

    python benchmarks/_http_load.py PORT CONNECTIONS WARMUP REQUESTS

CONNECTIONS greenlets each open one keep-alive connection to 127.0.0.1:PORT, send WARMUP
requests (workers booting, first-request imports), wait for all the others, then send
REQUESTS more, timed. Prints one JSON line: the timed phase's seconds, the CPU seconds the
worker processes that answered spent in it (``/proc/<pid>/stat``: user + system, Linux),
requests, errors, and how many connections each worker pid answered.
"""
from gevent import monkey

monkey.patch_all()

import json  # noqa: E402
import os  # noqa: E402
import socket  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402

import gevent  # noqa: E402
from gevent.event import Event  # noqa: E402

REQUEST = b"GET / HTTP/1.1\r\nHost: bench\r\n\r\n"
IO_TIMEOUT = 60.0  # every run ends, even against a server that stopped answering


def cpu_seconds(pids: set[str]) -> float:
    """User + system CPU seconds of these processes so far (fields 14 and 15 of
    /proc/<pid>/stat, after the parenthesised command name)."""
    ticks = 0
    for pid in pids:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
        ticks += int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


class Connection:
    """One keep-alive connection that reads responses framed by Content-Length."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=IO_TIMEOUT)
        self.buffer = b""

    def get(self) -> bytes:
        self.sock.sendall(REQUEST)
        while b"\r\n\r\n" not in self.buffer:
            self._read()
        head, _, self.buffer = self.buffer.partition(b"\r\n\r\n")
        if not head.startswith(b"HTTP/1.1 200"):
            raise OSError(head.split(b"\r\n", 1)[0].decode())
        length = next(int(line.split(b":", 1)[1]) for line in head.split(b"\r\n")
                      if line.lower().startswith(b"content-length:"))
        while len(self.buffer) < length:
            self._read()
        body, self.buffer = self.buffer[:length], self.buffer[length:]
        return body

    def _read(self) -> None:
        data = self.sock.recv(65536)
        if not data:
            raise OSError("connection closed")
        self.buffer += data


def main() -> None:
    port, connections, warmup, requests = map(int, sys.argv[1:5])
    ready, go = [0], Event()
    errors = [0]
    done: list[float] = []
    pids: dict[str, int] = {}
    warm_pids: set[str] = set()

    def client() -> None:
        conn = None
        try:
            conn = Connection(port)
            for _ in range(warmup):
                warm_pids.add(conn.get().decode().split()[-1])
        except OSError:
            errors[0] += 1
        ready[0] += 1
        if ready[0] == connections:
            go.set()
        go.wait()
        try:
            if conn is None:
                return
            body = b""
            for _ in range(requests):
                body = conn.get()
            pid = body.decode().split()[-1]
            pids[pid] = pids.get(pid, 0) + 1
        except OSError:
            errors[0] += 1
        finally:
            done.append(time.perf_counter())
            if conn is not None:
                conn.sock.close()

    greenlets = [gevent.spawn(client) for _ in range(connections)]
    go.wait()
    cpu_start = cpu_seconds(warm_pids)
    start = time.perf_counter()
    gevent.joinall(greenlets)
    cpu = cpu_seconds(warm_pids) - cpu_start
    print(json.dumps({"seconds": max(done) - start, "server_cpu_s": cpu,
                      "requests": connections * requests,
                      "errors": errors[0], "connections_per_pid": pids}), flush=True)


if __name__ == "__main__":
    main()
