"""Switches to a greenlet from another thread: greenlet refuses (cross-thread error)."""
import patchkit

patchkit.patch_all()

import gevent  # noqa: E402
import greenlet  # noqa: E402

start_thread = patchkit.get_original("_thread", "start_new_thread")
allocate_lock = patchkit.get_original("_thread", "allocate_lock")
target = greenlet.greenlet(lambda: None)
done = allocate_lock()
done.acquire()


def other_thread():
    try:
        target.switch()
    finally:
        done.release()


start_thread(other_thread, ())
gevent.get_hub().threadpool.apply(done.acquire)
print("main done")
