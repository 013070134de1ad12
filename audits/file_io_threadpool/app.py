"""gevent.fileobject.FileObjectThread: the same slow reads, in gevent's threadpool.

Three FIFO reads whose writers answer after 0.2 s overlap, and the hub keeps running.
"""
import patchkit

patchkit.patch_all()

import os  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402

import gevent  # noqa: E402
from gevent.fileobject import FileObjectThread  # noqa: E402

folder = tempfile.mkdtemp(prefix="patchkit-fifo-")


def read(name):
    path = os.path.join(folder, name)
    os.mkfifo(path)
    writer = subprocess.Popen(["sh", "-c", f"exec 3>'{path}'; sleep 0.2; echo data >&3"])
    # Opening a FIFO waits for its writer too: open it in the pool as well.
    raw = gevent.get_hub().threadpool.apply(open, (path, "rb"))
    with FileObjectThread(raw, "rb") as f:
        data = f.read()
    writer.wait()
    return data


start = time.perf_counter()
jobs = [gevent.spawn(read, f"f{i}") for i in range(3)]
gevent.joinall(jobs, raise_error=True)
elapsed = time.perf_counter() - start
assert [job.value for job in jobs] == [b"data\n"] * 3
print(f"3 slow reads in {elapsed:.2f} s")
assert elapsed < 0.45, "the reads did not overlap"  # one after another: 0.6 s
