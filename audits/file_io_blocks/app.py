"""Disk-style file I/O: open().read() waits in the kernel on the hub's thread.

Each greenlet reads a FIFO whose writer (another process) answers after 0.15 s: a read
from a slow file is the same system call, and no patch reaches it.
"""
import patchkit

patchkit.patch_all()

import os  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402

import gevent  # noqa: E402

folder = tempfile.mkdtemp(prefix="patchkit-fifo-")


def slow_file(name):
    path = os.path.join(folder, name)
    os.mkfifo(path)
    # The writer opens at once and writes 0.15 s later, like a disk that is slow to answer.
    writer = subprocess.Popen(["sh", "-c", f"exec 3>'{path}'; sleep 0.15; echo data >&3"])
    return path, writer


def read(name):
    path, writer = slow_file(name)
    with open(path, "rb") as f:
        data = f.read()
    writer.wait()
    return data


jobs = [gevent.spawn(read, f"f{i}") for i in range(2)]
gevent.joinall(jobs, raise_error=True)
assert [job.value for job in jobs] == [b"data\n"] * 2
