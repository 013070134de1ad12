"""kafka-python: send() waiting for a broker that never answers is cooperative once patched.

Four producers wait for metadata (max_block_ms=300) at once: about 0.3 s in all, and
the hub runs meanwhile.
"""
import patchkit

patchkit.patch_all()

import socket  # noqa: E402
import time  # noqa: E402

import gevent  # noqa: E402
from kafka import KafkaProducer  # noqa: E402
from kafka.errors import KafkaTimeoutError  # noqa: E402

silent = socket.socket()  # accepts (the kernel's backlog) and never answers
silent.bind(("127.0.0.1", 0))
silent.listen(16)
port = silent.getsockname()[1]


def publish(i):
    producer = KafkaProducer(bootstrap_servers=f"127.0.0.1:{port}", api_version=(2, 5, 0),
                             max_block_ms=300)
    try:
        producer.send("events", b"event %d" % i)
        return "sent"
    except KafkaTimeoutError:
        return "timed out"
    finally:
        producer.close(timeout=0)


start = time.perf_counter()
jobs = [gevent.spawn(publish, i) for i in range(4)]
gevent.joinall(jobs, raise_error=True)
elapsed = time.perf_counter() - start
assert [job.value for job in jobs] == ["timed out"] * 4, [job.value for job in jobs]
print(f"4 metadata waits of 0.3 s in {elapsed:.2f} s")
assert elapsed < 0.8, "the waits did not overlap"  # one after another: 1.2 s
