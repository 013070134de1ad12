"""Starts a native thread before patching; it is still running at exit."""
import threading
import time

stop = threading.Event()


def poller():
    while not stop.is_set():
        time.sleep(0.01)


threading.Thread(target=poller, name="poller", daemon=True).start()

import patchkit  # noqa: E402

patchkit.patch_all()

import gevent  # noqa: E402

gevent.sleep(0.05)
print("main done")
