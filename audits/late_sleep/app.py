"""A late patch: helper did ``from time import sleep`` before patch_all() ran."""
import helper  # imported first: it keeps the original sleep

import patchkit

patchkit.patch_all()

import gevent  # noqa: E402

gevent.joinall([gevent.spawn(helper.nap, 0.1) for _ in range(3)], raise_error=True)
