"""argon2-cffi: a memory-hard hash is C work that holds the hub for its whole run."""
import patchkit

patchkit.patch_all()

import argon2  # noqa: E402
import gevent  # noqa: E402

hasher = argon2.PasswordHasher(time_cost=3, memory_cost=32768, parallelism=1)


def register(password):
    return hasher.hash(password)


gevent.joinall([gevent.spawn(register, f"secret{i}") for i in range(2)], raise_error=True)
