"""A greenlet calls gc.collect() over a few million objects: computation, at that line."""
import patchkit

patchkit.patch_all()

import gc  # noqa: E402

import gevent  # noqa: E402

garbage = [[i] for i in range(3_000_000)]


def clear_caches():
    gc.collect()


gevent.spawn(clear_caches).join()
