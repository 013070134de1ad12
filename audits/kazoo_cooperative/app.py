"""kazoo after patch_all(): start() waiting for a server that never answers is cooperative.

Four clients each wait start(timeout=0.3) at once, on kazoo's default threading handler
(its threads are greenlets once patched).
"""
import patchkit

patchkit.patch_all()

import socket  # noqa: E402
import time  # noqa: E402

import gevent  # noqa: E402
from kazoo.client import KazooClient  # noqa: E402

silent = socket.socket()  # accepts (the kernel's backlog) and never answers
silent.bind(("127.0.0.1", 0))
silent.listen(16)
port = silent.getsockname()[1]


def start_client():
    client = KazooClient(hosts=f"127.0.0.1:{port}", timeout=0.3,
                         connection_retry={"max_tries": 0})
    try:
        client.start(timeout=0.3)
        return "started"
    except client.handler.timeout_exception:
        return "timed out"
    finally:
        client.stop()
        client.close()


start = time.perf_counter()
jobs = [gevent.spawn(start_client) for _ in range(4)]
gevent.joinall(jobs, raise_error=True)
elapsed = time.perf_counter() - start
assert [job.value for job in jobs] == ["timed out"] * 4, [job.value for job in jobs]
print(f"4 starts of 0.3 s in {elapsed:.2f} s")
assert elapsed < 0.8, "the starts did not overlap"  # one after another: 1.2 s
