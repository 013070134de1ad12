"""cassandra-driver imported after patch_all(): GeventConnection, cooperative waits.

Four clusters connect to a server that never answers (connect_timeout 0.3 s) at once.
"""
import patchkit

patchkit.patch_all()

import socket  # noqa: E402
import time  # noqa: E402

import gevent  # noqa: E402
from cassandra.cluster import Cluster, NoHostAvailable  # noqa: E402
from cassandra.io.geventreactor import GeventConnection  # noqa: E402

silent = socket.socket()  # accepts (the kernel's backlog) and never answers
silent.bind(("127.0.0.1", 0))
silent.listen(16)
port = silent.getsockname()[1]


def connect():
    cluster = Cluster(["127.0.0.1"], port=port, connect_timeout=0.3,
                      control_connection_timeout=0.3, protocol_version=4)
    assert cluster.connection_class is GeventConnection, cluster.connection_class
    try:
        cluster.connect()
        return "connected"
    except NoHostAvailable:
        return "no host"
    finally:
        cluster.shutdown()


start = time.perf_counter()
jobs = [gevent.spawn(connect) for _ in range(4)]
gevent.joinall(jobs, raise_error=True)
elapsed = time.perf_counter() - start
assert [job.value for job in jobs] == ["no host"] * 4, [job.value for job in jobs]
print(f"4 connects of 0.3 s in {elapsed:.2f} s")
assert elapsed < 0.8, "the connects did not overlap"  # one after another: 1.2 s
