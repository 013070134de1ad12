"""Pillow: resizing a large image is C work that holds the hub."""
import patchkit

patchkit.patch_all()

import gevent  # noqa: E402
from PIL import Image  # noqa: E402

photo = Image.new("RGB", (3000, 3000), (120, 80, 40))


def thumbnail():
    return photo.resize((2000, 2000), Image.LANCZOS).size


gevent.joinall([gevent.spawn(thumbnail) for _ in range(2)], raise_error=True)
