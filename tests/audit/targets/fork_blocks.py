"""Parent and forked child both block the hub at the same line; the child ends by os._exit."""
import ctypes
import os
import sys

import patchkit

patchkit.patch_all()

import gevent  # noqa: E402

libc = ctypes.CDLL(None)


def block():
    libc.usleep(60_000)


def run_blocks():
    gevent.spawn(block).join()


pid = os.fork()
run_blocks()
if pid == 0:
    os._exit(int(sys.argv[1]) if len(sys.argv) > 1 else 0)
os.waitpid(pid, 0)
