"""An HTTP load client for the deployment tests and the gunicorn benchmark (plain threads,
loopback only, bounded in requests and time).

    python load.py PORT PATH[,PATH...] [--requests N] [--concurrency C] [--seconds S]
                   [--until-pids K]

Each thread sends ``GET`` requests (one connection each, ``Connection: close``) to the paths
in turn. It stops after N requests in all, after S seconds, or -- with ``--until-pids K`` --
once every path was answered by K different worker pids and N requests were made. Prints one
JSON line: ``{"requests": n, "errors": n, "seconds": s, "served": {path: {pid: count}}}``.
Responses are ``<view> <pid>`` (tests/deploy/apps/app.py).
"""
from __future__ import annotations

import argparse
import http.client
import json
import threading
import time


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("port", type=int)
    parser.add_argument("paths")
    parser.add_argument("--requests", type=int, default=40)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--until-pids", type=int, default=0)
    args = parser.parse_args()
    paths = args.paths.split(",")
    served: dict[str, dict[str, int]] = {path: {} for path in paths}
    state = {"requests": 0, "errors": 0}
    lock = threading.Lock()
    start = time.monotonic()
    deadline = start + args.seconds

    def done() -> bool:
        if time.monotonic() > deadline:
            return True
        if state["requests"] < args.requests:
            return False
        return all(len(pids) >= args.until_pids for pids in served.values())

    def one(path: str) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", args.port, timeout=15)
        try:
            conn.request("GET", path, headers={"Connection": "close"})
            response = conn.getresponse()
            body = response.read().decode()
        finally:
            conn.close()
        if response.status != 200:
            raise OSError(f"{path}: HTTP {response.status}")
        pid = body.split()[-1]
        with lock:
            served[path][pid] = served[path].get(pid, 0) + 1

    def worker(index: int) -> None:
        turn = index
        while True:
            with lock:
                if done():
                    return
                state["requests"] += 1
            try:
                one(paths[turn % len(paths)])
            except OSError:
                with lock:
                    state["errors"] += 1
                time.sleep(0.05)
            turn += 1

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(args.concurrency)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    print(json.dumps({**state, "seconds": time.monotonic() - start, "served": served}),
          flush=True)


if __name__ == "__main__":
    main()
