"""pymemcache (pure Python) after patch_all(): cooperative.

It talks to a real memcached, then four clients wait 0.3 s at once for a server that
accepts and never answers: about 0.3 s in all, the hub running meanwhile.
"""
import patchkit

patchkit.patch_all()

import os  # noqa: E402
import socket  # noqa: E402
import time  # noqa: E402

import gevent  # noqa: E402
from pymemcache.client.base import Client  # noqa: E402

host, port = os.environ["PATCHKIT_MEMCACHED"].split(":")
real = Client((host, int(port)), timeout=5)
real.set("audit", b"ok")
assert real.get("audit") == b"ok"

silent = socket.socket()  # accepts (the kernel's backlog) and never answers
silent.bind(("127.0.0.1", 0))
silent.listen(16)
silent_port = silent.getsockname()[1]


def stuck_get():
    client = Client(("127.0.0.1", silent_port), timeout=0.3, connect_timeout=0.3)
    try:
        return client.get("key")
    except TimeoutError:
        return "timed out"
    finally:
        client.close()


start = time.perf_counter()
jobs = [gevent.spawn(stuck_get) for _ in range(4)]
gevent.joinall(jobs, raise_error=True)
elapsed = time.perf_counter() - start
assert [job.value for job in jobs] == ["timed out"] * 4, [job.value for job in jobs]
print(f"4 waits of 0.3 s in {elapsed:.2f} s")
assert elapsed < 0.8, "the waits did not overlap"  # one after another: 1.2 s
