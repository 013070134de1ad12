"""Cooperative echo server and clients on loopback: nothing should block the hub."""
import patchkit

patchkit.patch_all()

import socket  # noqa: E402

import gevent  # noqa: E402
from gevent.server import StreamServer  # noqa: E402


def handle(sock, address):
    while True:
        data = sock.recv(1024)
        if not data:
            return
        sock.sendall(data)


def client(port, rounds):
    with socket.create_connection(("127.0.0.1", port)) as sock:
        for _ in range(rounds):
            sock.sendall(b"ping")
            assert sock.recv(1024) == b"ping"


server = StreamServer(("127.0.0.1", 0), handle)
server.start()
gevent.joinall([gevent.spawn(client, server.server_port, 50) for _ in range(20)], raise_error=True)
server.stop()
print("ok")
