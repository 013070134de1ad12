"""pylibmc: libmemcached waits in C, holding the hub for as long as a slow server takes.

It talks to a real memcached, then two greenlets each wait their 0.15 s poll timeout on a
server that accepts and never answers.
"""
import patchkit

patchkit.patch_all()

import os  # noqa: E402
import socket  # noqa: E402

import gevent  # noqa: E402
import pylibmc  # noqa: E402

real = pylibmc.Client([os.environ["PATCHKIT_MEMCACHED"]])
real.set("audit", b"ok")
assert real.get("audit") == b"ok"

silent = socket.socket()  # accepts (the kernel's backlog) and never answers
silent.bind(("127.0.0.1", 0))
silent.listen(16)
silent_port = silent.getsockname()[1]


def stuck_get():
    client = pylibmc.Client([f"127.0.0.1:{silent_port}"],
                            behaviors={"connect_timeout": 150, "_poll_timeout": 150})
    try:
        return client.get("key")
    except pylibmc.Error as exc:
        return type(exc).__name__
    finally:
        client.disconnect_all()


jobs = [gevent.spawn(stuck_get) for _ in range(2)]
gevent.joinall(jobs, raise_error=True)
# libmemcached gave up: a miss (None), or an error on some versions
values = [job.value for job in jobs]
assert all(value is None or value.endswith("Error") for value in values), values
