"""A lock created before patching, held by a native thread (also started before
patching) while a greenlet waits for it."""
import threading
import time

shared_lock = threading.Lock()
held = threading.Event()
go = threading.Event()


def holder():
    with shared_lock:
        held.set()
        go.wait()
        time.sleep(0.3)


threading.Thread(target=holder, name="holder").start()
held.wait()

import patchkit  # noqa: E402

patchkit.patch_all()

import gevent  # noqa: E402

go.set()


def waiter():
    with shared_lock:
        return "got it"


print(gevent.spawn(waiter).get())
