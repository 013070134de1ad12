"""An echo service with background jobs: some cooperative, some blocking the hub."""

import patchkit

patchkit.patch_all()

import ctypes  # noqa: E402
import socket  # noqa: E402

import gevent  # noqa: E402
from gevent.server import StreamServer  # noqa: E402

from . import helpers  # noqa: E402

libc = ctypes.CDLL(None)


def echo(sock: socket.socket, address: object) -> None:
    while True:
        data = sock.recv(1024)
        if not data:
            return
        sock.sendall(data)


def client(port: int, rounds: int) -> None:
    with socket.create_connection(("127.0.0.1", port)) as sock:
        for _ in range(rounds):
            sock.sendall(b"ping")
            sock.recv(1024)
            gevent.sleep(0.005)


def retry_job() -> None:
    for _ in range(3):
        helpers.pause(0.05)
        gevent.sleep(0.01)


def native_job() -> None:
    libc.usleep(80_000)


def main() -> None:
    server = StreamServer(("127.0.0.1", 0), echo)
    server.start()
    jobs = [gevent.spawn(client, server.server_port, 20) for _ in range(20)]
    jobs += [gevent.spawn(retry_job), gevent.spawn(native_job),
             gevent.spawn(helpers.checksum, 1_500_000)]
    gevent.joinall(jobs, raise_error=True)
    server.stop()
    print(f"served {20 * 20} echoes")


main()
