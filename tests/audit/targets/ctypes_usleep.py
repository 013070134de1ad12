"""A greenlet calls libc usleep through ctypes: a C call that never yields."""
import patchkit

patchkit.patch_all()

import ctypes  # noqa: E402

import gevent  # noqa: E402

libc = ctypes.CDLL(None)


def worker():
    libc.usleep(150_000)


gevent.joinall([gevent.spawn(worker), gevent.spawn(gevent.sleep, 0.01)])
