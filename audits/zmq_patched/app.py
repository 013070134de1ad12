"""pyzmq with patchkit's zmq patcher on: plain ``import zmq`` gets zmq.green's sockets.

A REP server greenlet answers each request after 0.2 s; three REQ clients wait at once
and finish together in about 0.2 s.
"""
import patchkit

patchkit.patch_all()

import time  # noqa: E402

import gevent  # noqa: E402
import zmq  # noqa: E402

ctx = zmq.Context()
server = ctx.socket(zmq.ROUTER)
port = server.bind_to_random_port("tcp://127.0.0.1")


def serve():
    while True:
        ident, empty, body = server.recv_multipart()
        gevent.spawn_later(0.2, server.send_multipart, [ident, empty, body.upper()])


def ask(word):
    client = ctx.socket(zmq.REQ)
    client.connect(f"tcp://127.0.0.1:{port}")
    client.send(word)
    answer = client.recv()
    client.close(linger=0)
    return answer


serving = gevent.spawn(serve)
start = time.perf_counter()
jobs = [gevent.spawn(ask, word) for word in (b"a", b"b", b"c")]
gevent.joinall(jobs, raise_error=True)
elapsed = time.perf_counter() - start
assert [job.value for job in jobs] == [b"A", b"B", b"C"]
print(f"3 requests of 0.2 s in {elapsed:.2f} s")
assert elapsed < 0.45, "the requests did not overlap"  # one after another: 0.6 s
serving.kill()
server.close(linger=0)
ctx.term()
