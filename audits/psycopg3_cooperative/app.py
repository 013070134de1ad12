"""psycopg 3 (3.1.14 or later) imported after patch_all(): queries yield to the hub.

Four connections each run pg_sleep(0.5) concurrently: about 0.5 s in all (one after
another: 2 s), no hub block.
"""
import patchkit

patchkit.patch_all()

import os  # noqa: E402
import time  # noqa: E402

import gevent  # noqa: E402
import psycopg  # noqa: E402

DSN = os.environ["PATCHKIT_PG_DSN"]


def query(conn, i):
    return conn.execute("select pg_sleep(0.5), %s", (i,)).fetchone()[1]


conns = [psycopg.connect(DSN, autocommit=True) for _ in range(4)]
start = time.perf_counter()
jobs = [gevent.spawn(query, conn, i) for i, conn in enumerate(conns)]
gevent.joinall(jobs, raise_error=True)
elapsed = time.perf_counter() - start
assert [job.value for job in jobs] == [0, 1, 2, 3]
print(f"psycopg {psycopg.__version__} ({psycopg.pq.__impl__}): "
      f"4 queries of 0.5 s in {elapsed:.2f} s")
assert elapsed < 1.2, "the queries did not overlap"
