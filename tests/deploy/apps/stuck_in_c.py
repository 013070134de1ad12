"""A greenlet gets stuck in a C call for good, holding the hub; prints STUCK first.

    python stuck_in_c.py pause    # libc pause(): returns only when a signal handler runs
    python stuck_in_c.py mutex    # relocks a glibc mutex it holds: no signal ever ends it
"""
import patchkit

patchkit.patch_all()

import ctypes  # noqa: E402
import sys  # noqa: E402

import gevent  # noqa: E402

libc = ctypes.CDLL(None)


def stuck() -> None:
    print("STUCK", flush=True)
    if sys.argv[1] == "pause":
        while True:
            libc.pause()  # held again at once after any signal that returns
    mutex = ctypes.create_string_buffer(64)  # zeroed: PTHREAD_MUTEX_INITIALIZER on glibc
    libc.pthread_mutex_lock(mutex)
    libc.pthread_mutex_lock(mutex)  # a default mutex relocked by its owner: waits forever


try:
    gevent.spawn(stuck).join()
finally:
    print("finally ran", flush=True)
