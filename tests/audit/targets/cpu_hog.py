"""A CPU-bound greenlet that holds the hub for about 0.2 s."""
import patchkit

patchkit.patch_all()

import time  # noqa: E402

import gevent  # noqa: E402


def hog():
    deadline = time.perf_counter() + 0.2
    total = 0
    while time.perf_counter() < deadline:
        total += sum(i * i for i in range(1000))
    return total


gevent.joinall([gevent.spawn(hog), gevent.spawn(gevent.sleep, 0.01)])
