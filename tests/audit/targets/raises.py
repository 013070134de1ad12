"""Blocks the hub, then dies with an uncaught error."""
import patchkit

patchkit.patch_all()

import gevent  # noqa: E402

original_sleep = patchkit.get_original("time", "sleep")


def worker():
    original_sleep(0.08)


gevent.spawn(worker).join()
raise RuntimeError("target failed on purpose")
