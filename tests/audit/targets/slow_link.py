"""A greenlet's link callback does slow work: link callbacks run in the hub itself."""
import patchkit

patchkit.patch_all()

import time  # noqa: E402

import gevent  # noqa: E402


def on_done(greenlet):
    deadline = time.perf_counter() + 0.15
    while time.perf_counter() < deadline:
        pass


worker = gevent.spawn(gevent.sleep, 0.01)
worker.link(on_done)
gevent.joinall([worker, gevent.spawn(gevent.sleep, 0.3)])
print("main done")
