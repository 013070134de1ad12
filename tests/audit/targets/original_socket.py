"""Reads with an original (unpatched) socket from a local server that answers after 0.3 s."""
import patchkit

patchkit.patch_all()

import gevent  # noqa: E402

OriginalSocket = patchkit.get_original("socket", "socket")
start_thread = patchkit.get_original("_thread", "start_new_thread")
original_sleep = patchkit.get_original("time", "sleep")


def slow_server(listener):
    conn, _ = listener.accept()
    conn.recv(16)
    original_sleep(0.3)
    conn.sendall(b"late reply")
    conn.close()


listener = OriginalSocket()
listener.bind(("127.0.0.1", 0))
listener.listen(1)
start_thread(slow_server, (listener,))


def client():
    sock = OriginalSocket()
    sock.connect(listener.getsockname())
    sock.sendall(b"hello")
    reply = sock.recv(64)
    sock.close()
    gevent.sleep(0.01)  # the wait ends this greenlet's loop turn alone: timed exactly
    return reply


print(gevent.spawn(client).get())
