"""os.system waits for its child in C: each call holds the hub until the command ends."""
import patchkit

patchkit.patch_all()

import os  # noqa: E402

import gevent  # noqa: E402


def run_job():
    return os.system("sleep 0.15")


jobs = [gevent.spawn(run_job) for _ in range(2)]
gevent.joinall(jobs, raise_error=True)
assert [job.value for job in jobs] == [0, 0]
