"""Four 0.3 s blocks in a row: with a short --flush, the parts written meanwhile (on the
flusher's thread) overlap each block."""
import patchkit

patchkit.patch_all()

import gevent  # noqa: E402

original_sleep = patchkit.get_original("time", "sleep")


def block():
    original_sleep(0.3)


for _ in range(4):
    gevent.spawn(block).join()
