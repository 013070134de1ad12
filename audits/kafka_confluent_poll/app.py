"""confluent-kafka, the workaround: flush(0) in a loop with gevent.sleep() between calls.

The same undeliverable messages, waited for 0.2 s by three greenlets at once: no call
into librdkafka waits, so the hub keeps running.
"""
import patchkit

patchkit.patch_all()

import socket  # noqa: E402
import time  # noqa: E402

import gevent  # noqa: E402
from confluent_kafka import Producer  # noqa: E402

with socket.socket() as probe:
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]


def cooperative_flush(producer, timeout):
    deadline = time.monotonic() + timeout
    while (left := producer.flush(0)) and time.monotonic() < deadline:
        gevent.sleep(0.01)
    return left


def publish(i):
    producer = Producer({"bootstrap.servers": f"127.0.0.1:{port}", "log_level": 0,
                         "logger": lambda *args: None})
    producer.produce("events", b"event %d" % i)
    return cooperative_flush(producer, 0.2)


start = time.perf_counter()
jobs = [gevent.spawn(publish, i) for i in range(3)]
gevent.joinall(jobs, raise_error=True)
elapsed = time.perf_counter() - start
assert [job.value for job in jobs] == [1, 1, 1], [job.value for job in jobs]
print(f"3 flushes of 0.2 s in {elapsed:.2f} s")
assert elapsed < 0.45, "the flushes did not overlap"  # one after another: 0.6 s
