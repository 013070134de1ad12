"""A ctypes call into libc's usleep: C code that no patch reaches."""
import patchkit

patchkit.patch_all()

import ctypes  # noqa: E402

import gevent  # noqa: E402

libc = ctypes.CDLL(None)


def pause():
    libc.usleep(150_000)


gevent.joinall([gevent.spawn(pause) for _ in range(2)], raise_error=True)
