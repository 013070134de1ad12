"""Runs a shell command with os.system after patching: gevent has no cooperative one."""
import patchkit

patchkit.patch_all()

import os  # noqa: E402

import gevent  # noqa: E402


def run():
    return os.system("sleep 0.2")


print(gevent.spawn(run).get())
