"""Eight greenlets made ready together each block 40 ms: one loop turn of ~320 ms, no single
block over 45 ms. A heartbeat greenlet measures how late its own sleep ended."""
import ctypes
import time

import patchkit

patchkit.patch_all()

import gevent  # noqa: E402
from gevent.event import Event  # noqa: E402

go = Event()
late = []


def heartbeat():
    for _ in range(4):
        started = time.perf_counter()
        gevent.sleep(0.1)
        late.append(time.perf_counter() - started - 0.1)


def worker():
    go.wait()
    ctypes.CDLL(None).usleep(40_000)


beat = gevent.spawn(heartbeat)
workers = [gevent.spawn(worker) for _ in range(8)]
gevent.sleep(0.05)
go.set()
gevent.joinall([beat, *workers])
print(f"LATE {max(late):.6f}", flush=True)
