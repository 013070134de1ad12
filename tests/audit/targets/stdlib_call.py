"""A line that calls a standard-library function which waits in C; and a greenlet
spawned straight on a standard-library function."""
import patchkit

patchkit.patch_all()

import lzma  # noqa: E402
import os  # noqa: E402

import gevent  # noqa: E402

DATA = os.urandom(1 << 20)


def pack():
    return len(lzma.compress(DATA, preset=1))


print(gevent.spawn(pack).get() > 0)
for _ in range(3):
    print(len(gevent.spawn(lzma.compress, DATA, preset=1).get()) > 0)
