"""A cooperative echo server that runs until stopped; prints READY <port> when listening."""
import patchkit

patchkit.patch_all()

import sys  # noqa: E402

from gevent.server import StreamServer  # noqa: E402


def handle(sock, address):
    while True:
        data = sock.recv(1024)
        if not data:
            return
        sock.sendall(data)


server = StreamServer(("127.0.0.1", 0), handle)
server.start()
try:
    print("READY", server.server_port, flush=True)
    server.serve_forever()
finally:
    print("server closing", flush=True)
    sys.stdout.flush()
