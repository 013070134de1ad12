"""redis-py with the hiredis parser against a real redis-server: still cooperative.

hiredis only parses; the waits stay on redis-py's (patched) sockets. Five BLPOPs of
0.3 s overlap while a sixth greenlet pushes after 0.1 s.
"""
import patchkit

patchkit.patch_all()

import os  # noqa: E402
import time  # noqa: E402

import gevent  # noqa: E402
import redis  # noqa: E402
from redis.utils import HIREDIS_AVAILABLE  # noqa: E402

assert HIREDIS_AVAILABLE, "hiredis is not installed: this case needs it"
client = redis.Redis.from_url(os.environ["PATCHKIT_REDIS_URL"])
client.delete("audit:hiredis")
start = time.perf_counter()
waiters = [gevent.spawn(client.blpop, ["audit:hiredis"], timeout=0.3) for _ in range(5)]
gevent.spawn_later(0.1, client.rpush, "audit:hiredis", "job")
gevent.joinall(waiters, raise_error=True)
elapsed = time.perf_counter() - start
parser = type(client.connection_pool.get_connection()._parser).__name__
got = [w.value for w in waiters if w.value]
assert got == [(b"audit:hiredis", b"job")], got
assert "Hiredis" in parser, parser
print(f"5 BLPOPs in {elapsed:.2f} s with {parser}")
assert elapsed < 1.0, "the pops did not overlap"
