"""Patches with gevent.monkey.patch_all() directly (as gunicorn's gevent worker does)."""
from socket import socket as early_socket  # noqa: F401  (bound before patching)

from gevent import monkey

monkey.patch_all()

import gevent  # noqa: E402

original_sleep = monkey.get_original("time", "sleep")
gevent.spawn(original_sleep, 0.05).join()
gevent.spawn(lambda: original_sleep(0.05)).join()
