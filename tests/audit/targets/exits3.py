"""Blocks the hub, then calls sys.exit(3) from a greenlet's caller."""
import sys

import patchkit

patchkit.patch_all()

import gevent  # noqa: E402

original_sleep = patchkit.get_original("time", "sleep")
gevent.spawn(lambda: original_sleep(0.08)).join()
sys.exit(3)
