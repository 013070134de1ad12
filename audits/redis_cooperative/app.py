"""redis-py against a real redis-server: pure Python over patched sockets, cooperative.

Five greenlets block on BLPOP for 0.3 s each while a sixth pushes after 0.1 s.
"""
import patchkit

patchkit.patch_all()

import os  # noqa: E402
import time  # noqa: E402

import gevent  # noqa: E402
import redis  # noqa: E402

client = redis.Redis.from_url(os.environ["PATCHKIT_REDIS_URL"])
client.delete("audit:queue")
start = time.perf_counter()
waiters = [gevent.spawn(client.blpop, ["audit:queue"], timeout=0.3) for _ in range(5)]
gevent.spawn_later(0.1, client.rpush, "audit:queue", "job")
gevent.joinall(waiters, raise_error=True)
elapsed = time.perf_counter() - start
got = [w.value for w in waiters if w.value]
assert got == [(b"audit:queue", b"job")], got
print(f"5 BLPOPs in {elapsed:.2f} s")
assert elapsed < 1.0, "the pops did not overlap"
