"""Resolves a name with the original getaddrinfo on the hub's thread (fast, but blocking)."""
import patchkit

patchkit.patch_all()

import gevent  # noqa: E402

original_getaddrinfo = patchkit.get_original("socket", "getaddrinfo")


def lookup():
    return original_getaddrinfo("localhost", 80)


gevent.spawn(lookup).join()
print("resolved")
