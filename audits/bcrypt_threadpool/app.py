"""bcrypt in gevent's threadpool: bcrypt releases the GIL, so the hub keeps running.

A ticker greenlet counts 10 ms sleeps while two hashes run in the pool: it must keep ticking.
"""
import patchkit

patchkit.patch_all()

import time  # noqa: E402

import bcrypt  # noqa: E402
import gevent  # noqa: E402

SALT = bcrypt.gensalt(rounds=11)
ticks = []


def tick():
    while True:
        gevent.sleep(0.01)
        ticks.append(time.perf_counter())


def login(password):
    return gevent.get_hub().threadpool.apply(bcrypt.hashpw, (password, SALT))


ticker = gevent.spawn(tick)
start = time.perf_counter()
gevent.joinall([gevent.spawn(login, b"secret%d" % i) for i in range(2)], raise_error=True)
elapsed = time.perf_counter() - start
ticker.kill()
print(f"2 hashes in {elapsed:.2f} s, {len(ticks)} ticks")
assert len(ticks) >= elapsed / 0.01 / 3, "the hub did not run while hashing"
