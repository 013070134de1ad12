"""kombu (py-amqp transport) against RabbitMQ after patch_all(): cooperative.

Three consumers, each on its own connection, wait in drain_events() for a message a
publisher sends after 0.2 s: all three get theirs at about 0.2 s.
"""
import patchkit

patchkit.patch_all()

import os  # noqa: E402
import time  # noqa: E402
import uuid  # noqa: E402

import gevent  # noqa: E402
from kombu import Connection, Queue  # noqa: E402

URL = os.environ["PATCHKIT_AMQP_URL"]
QUEUES = [Queue(f"audit-kombu-{uuid.uuid4().hex[:8]}-{i}", auto_delete=True) for i in range(3)]


def consume(queue):
    got = []
    with Connection(URL) as conn:
        with conn.Consumer(queue, callbacks=[lambda body, message: got.append(body)],
                           accept=["json"]) as consumer:
            consumer.consume()
            conn.drain_events(timeout=3)
    return got


def publish():
    with Connection(URL) as conn:
        producer = conn.Producer(serializer="json")
        gevent.sleep(0.2)
        for queue in QUEUES:
            producer.publish({"to": queue.name}, routing_key=queue.name, declare=[queue])


start = time.perf_counter()
jobs = [gevent.spawn(consume, queue) for queue in QUEUES]
gevent.sleep(0.05)  # let the consumers declare their queues
gevent.joinall([*jobs, gevent.spawn(publish)], raise_error=True)
elapsed = time.perf_counter() - start
assert [job.value for job in jobs] == [[{"to": queue.name}] for queue in QUEUES]
print(f"3 consumers in {elapsed:.2f} s")
assert elapsed < 1.5, "the consumers did not wait together"
