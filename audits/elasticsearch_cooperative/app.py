"""elasticsearch-py: requests to a server that never answers wait cooperatively.

Four info() calls with request_timeout=0.3 run at once: about 0.3 s in all.
"""
import patchkit

patchkit.patch_all()

import socket  # noqa: E402
import time  # noqa: E402

import gevent  # noqa: E402
from elasticsearch import ConnectionTimeout, Elasticsearch  # noqa: E402

silent = socket.socket()  # accepts (the kernel's backlog) and never answers
silent.bind(("127.0.0.1", 0))
silent.listen(16)
port = silent.getsockname()[1]
client = Elasticsearch(f"http://127.0.0.1:{port}", request_timeout=0.3, max_retries=0,
                       connections_per_node=4)


def info():
    try:
        client.info()
        return "answered"
    except ConnectionTimeout:
        return "timed out"


start = time.perf_counter()
jobs = [gevent.spawn(info) for _ in range(4)]
gevent.joinall(jobs, raise_error=True)
elapsed = time.perf_counter() - start
assert [job.value for job in jobs] == ["timed out"] * 4, [job.value for job in jobs]
print(f"4 requests of 0.3 s in {elapsed:.2f} s")
assert elapsed < 0.8, "the requests did not overlap"  # one after another: 1.2 s
