"""A small service: a heavy import at start-up, a lazy heavy import on the first
request, and CPU work every request pays for."""
import patchkit

patchkit.patch_all()

import time  # noqa: E402

import gevent  # noqa: E402


def heartbeat():
    while True:
        gevent.sleep(0.01)


gevent.spawn(heartbeat)
gevent.sleep(0.02)  # the hub runs: from here on a block delays the heartbeat

import startup_heavy  # noqa: E402,F401


def handle(n):
    import startup_lazy  # noqa: F401

    gevent.sleep(0.001)  # the request's I/O
    end = time.perf_counter() + 0.15
    while time.perf_counter() < end:
        n += 1
    return n


for request in range(3):
    gevent.spawn(handle, request).join()
    gevent.sleep(0.01)
print("served")
