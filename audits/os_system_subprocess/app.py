"""subprocess.run after patch_all(): the same commands overlap and the hub keeps running."""
import patchkit

patchkit.patch_all()

import subprocess  # noqa: E402
import time  # noqa: E402

import gevent  # noqa: E402


def run_job():
    return subprocess.run(["sleep", "0.5"], check=True).returncode


start = time.perf_counter()
jobs = [gevent.spawn(run_job) for _ in range(3)]
gevent.joinall(jobs, raise_error=True)
elapsed = time.perf_counter() - start
assert [job.value for job in jobs] == [0, 0, 0]
print(f"3 commands of 0.5 s in {elapsed:.2f} s")
# One after another: 1.5 s. Generous: starting processes is slow on a loaded machine.
assert elapsed < 1.2, "the commands did not overlap"
