"""orjson in gevent's threadpool: orjson holds the GIL, so the hub still cannot run.

A ticker greenlet counts 10 ms sleeps while the pool serializes; it barely ticks.
"""
import patchkit

patchkit.patch_all()

import time  # noqa: E402

import gevent  # noqa: E402
import orjson  # noqa: E402

rows = [{"id": i, "name": f"row {i}", "tags": ["a", "b"], "score": i / 7} for i in range(500_000)]
ticks = []


def tick():
    while True:
        gevent.sleep(0.01)
        ticks.append(time.perf_counter())


def render():
    return len(gevent.get_hub().threadpool.apply(orjson.dumps, (rows,)))


ticker = gevent.spawn(tick)
gevent.sleep(0.05)
before = len(ticks)
start = time.perf_counter()
for _ in range(3):
    render()
elapsed = time.perf_counter() - start
ticker.kill()
meanwhile = len(ticks) - before
print(f"3 documents in {elapsed:.2f} s, {meanwhile} ticks meanwhile")
# A free hub would tick ~elapsed/0.01 times (bcrypt_threadpool does); orjson starves it.
assert meanwhile < elapsed / 0.01 / 2, "the hub ran: orjson released the GIL after all?"
