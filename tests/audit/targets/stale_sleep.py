"""Imports a helper (which did `from time import sleep`) before patching, then calls it."""
import stale_helper

import patchkit

patchkit.patch_all()

import gevent  # noqa: E402


def worker():
    stale_helper.nap(0.06)
    gevent.sleep(0.005)  # a timer wait: each nap ends a loop turn of its own


for _ in range(3):
    gevent.spawn_later(0.005, worker).join()  # ... and starts one (a timer)
