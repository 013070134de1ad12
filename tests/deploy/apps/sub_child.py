"""A Python program started by sub_parent.py: it patches, then blocks its hub once."""
import patchkit

patchkit.patch_all()

import ctypes  # noqa: E402
import os  # noqa: E402

import gevent  # noqa: E402

libc = ctypes.CDLL(None)


def child_work() -> None:
    libc.usleep(100_000)  # a C call that never yields: holds the child's hub for 100 ms


gevent.joinall([gevent.spawn(child_work), gevent.spawn(gevent.sleep, 0.01)])
print(f"CHILD {os.getpid()}", flush=True)
