"""Calls a blocking gevent API from a hub callback: gevent raises BlockingSwitchOutError."""
import patchkit

patchkit.patch_all()

import gevent  # noqa: E402


def in_the_hub():
    gevent.sleep(0.01)


gevent.get_hub().loop.run_callback(in_the_hub)
gevent.sleep(0.05)
print("main done")
