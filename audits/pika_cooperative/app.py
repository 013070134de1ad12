"""pika's BlockingConnection against RabbitMQ after patch_all(): cooperative.

Three consumers, each on its own connection, wait for a message that a publisher sends
after 0.2 s: all three get theirs at about 0.2 s.
"""
import patchkit

patchkit.patch_all()

import os  # noqa: E402
import time  # noqa: E402
import uuid  # noqa: E402

import gevent  # noqa: E402
import pika  # noqa: E402

PARAMS = pika.URLParameters(os.environ["PATCHKIT_AMQP_URL"].rstrip("/") + "/%2F")  # vhost /
QUEUES = [f"audit-pika-{uuid.uuid4().hex[:8]}-{i}" for i in range(3)]


def consume(queue):
    connection = pika.BlockingConnection(PARAMS)
    channel = connection.channel()
    channel.queue_declare(queue, auto_delete=True)
    for _method, _props, _body in channel.consume(queue, auto_ack=True, inactivity_timeout=3):
        break
    channel.cancel()
    connection.close()
    return body


def publish():
    connection = pika.BlockingConnection(PARAMS)
    channel = connection.channel()
    gevent.sleep(0.2)
    for queue in QUEUES:
        channel.queue_declare(queue, auto_delete=True)
        channel.basic_publish("", queue, queue.encode())
    connection.close()


start = time.perf_counter()
jobs = [gevent.spawn(consume, queue) for queue in QUEUES]
gevent.joinall([*jobs, gevent.spawn(publish)], raise_error=True)
elapsed = time.perf_counter() - start
assert [job.value for job in jobs] == [queue.encode() for queue in QUEUES]
print(f"3 consumers in {elapsed:.2f} s")
assert elapsed < 1.5, "the consumers did not wait together"
