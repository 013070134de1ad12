"""A forked child blocks the hub, then waits to be SIGKILLed by its parent (as a master
kills a worker that timed out): what it saw must still reach the report."""
import ctypes
import os
import signal
import time

import patchkit

patchkit.patch_all()

import gevent  # noqa: E402

MARK = f"killed-child-{os.getpid()}.flushed"
pid = os.fork()
if pid == 0:
    gevent.spawn(lambda: ctypes.CDLL(None).usleep(80_000)).join()
    gevent.sleep(0.7)  # two flushes (--flush 0.3) of the child's time, however slow it runs
    open(MARK, "w").close()
    while True:
        gevent.sleep(0.05)
# Killed once it says it flushed after its block: on a loaded machine a fixed 1.2 s came
# before the child got that far.
deadline = time.monotonic() + 30
while not os.path.exists(MARK) and time.monotonic() < deadline:
    time.sleep(0.05)
os.unlink(MARK)
os.kill(pid, signal.SIGKILL)
os.waitpid(pid, 0)
