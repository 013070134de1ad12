"""A forked child blocks the hub, then waits to be SIGKILLed by its parent (as a master
kills a worker that timed out): what it saw must still reach the report."""
import ctypes
import os
import signal
import time

import patchkit

patchkit.patch_all()

import gevent  # noqa: E402

pid = os.fork()
if pid == 0:
    gevent.spawn(lambda: ctypes.CDLL(None).usleep(80_000)).join()
    while True:
        gevent.sleep(0.05)
time.sleep(1.2)  # the child flushes every 0.3 s (--flush 0.3)
os.kill(pid, signal.SIGKILL)
os.waitpid(pid, 0)
