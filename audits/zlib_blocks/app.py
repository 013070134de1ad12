"""zlib (standard library): compressing a few MB at level 9 holds the hub while C works."""
import patchkit

patchkit.patch_all()

import random  # noqa: E402
import zlib  # noqa: E402

import gevent  # noqa: E402

words = [b"gevent", b"hub", b"greenlet", b"patch", b"block", b"socket", b"queue"]
rng = random.Random(15)
payload = b" ".join(rng.choice(words) for _ in range(800_000))


def compress():
    return zlib.compress(payload, 6)


gevent.joinall([gevent.spawn(compress) for _ in range(2)], raise_error=True)
