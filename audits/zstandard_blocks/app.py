"""zstandard: a high compression level is C work that holds the hub."""
import patchkit

patchkit.patch_all()

import random  # noqa: E402

import gevent  # noqa: E402
import zstandard  # noqa: E402

words = [b"gevent", b"hub", b"greenlet", b"patch", b"block", b"socket", b"queue"]
rng = random.Random(15)
payload = b" ".join(rng.choice(words) for _ in range(300_000))


def compress():
    return zstandard.ZstdCompressor(level=12).compress(payload)


gevent.joinall([gevent.spawn(compress) for _ in range(2)], raise_error=True)
