"""pymongo: server selection against a server that never answers is cooperative.

Four clients each wait serverSelectionTimeoutMS=300 at once: about 0.3 s in all.
"""
import patchkit

patchkit.patch_all()

import socket  # noqa: E402
import time  # noqa: E402

import gevent  # noqa: E402
import pymongo  # noqa: E402
from pymongo.errors import ServerSelectionTimeoutError  # noqa: E402

silent = socket.socket()  # accepts (the kernel's backlog) and never answers
silent.bind(("127.0.0.1", 0))
silent.listen(16)
port = silent.getsockname()[1]


def ping():
    client = pymongo.MongoClient(f"mongodb://127.0.0.1:{port}/", serverSelectionTimeoutMS=300,
                                 connectTimeoutMS=300, socketTimeoutMS=300)
    try:
        client.admin.command("ping")
        return "answered"
    except ServerSelectionTimeoutError:
        return "timed out"
    finally:
        client.close()


start = time.perf_counter()
jobs = [gevent.spawn(ping) for _ in range(4)]
gevent.joinall(jobs, raise_error=True)
elapsed = time.perf_counter() - start
assert [job.value for job in jobs] == ["timed out"] * 4, [job.value for job in jobs]
print(f"4 selections of 0.3 s in {elapsed:.2f} s")
assert elapsed < 0.8, "the waits did not overlap"  # one after another: 1.2 s
