"""confluent-kafka: flush(timeout) waits inside librdkafka, holding the hub.

No broker answers at the address (nothing listens there), so each flush waits its whole
0.15 s timeout in C.
"""
import patchkit

patchkit.patch_all()

import socket  # noqa: E402

import gevent  # noqa: E402
from confluent_kafka import Producer  # noqa: E402

with socket.socket() as probe:  # a port nothing listens on
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]


def publish(i):
    producer = Producer({"bootstrap.servers": f"127.0.0.1:{port}", "log_level": 0,
                         "logger": lambda *args: None})
    producer.produce("events", b"event %d" % i)
    return producer.flush(0.15)  # messages still queued


jobs = [gevent.spawn(publish, i) for i in range(2)]
gevent.joinall(jobs, raise_error=True)
assert [job.value for job in jobs] == [1, 1], [job.value for job in jobs]
