"""pyzmq with its patcher off: recv() waits in libzmq, holding the hub.

The REP server is a greenlet too, so it never runs while a client waits: each client's
recv() blocks for its whole 0.2 s receive timeout, then gives up.
"""
import patchkit

patchkit.patch_all(zmq=False)

import gevent  # noqa: E402
import zmq  # noqa: E402

ctx = zmq.Context()
server = ctx.socket(zmq.ROUTER)
port = server.bind_to_random_port("tcp://127.0.0.1")


def ask(word):
    client = ctx.socket(zmq.REQ)
    client.setsockopt(zmq.RCVTIMEO, 200)
    client.connect(f"tcp://127.0.0.1:{port}")
    client.send(word)
    try:
        return client.recv()
    except zmq.Again:
        return None
    finally:
        client.close(linger=0)


jobs = [gevent.spawn(ask, word) for word in (b"a", b"b")]
gevent.joinall(jobs, raise_error=True)
assert [job.value for job in jobs] == [None, None]
server.close(linger=0)
ctx.term()
