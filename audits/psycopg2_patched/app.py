"""psycopg2 with patchkit's psycopg2 patcher (on by default): queries yield to the hub.

Four connections each run pg_sleep(0.3) concurrently: about 0.3 s in all, no hub block.
"""
import patchkit

patchkit.patch_all()

import os  # noqa: E402
import time  # noqa: E402

import gevent  # noqa: E402
import psycopg2  # noqa: E402

DSN = os.environ["PATCHKIT_PG_DSN"]


def query(conn, i):
    cur = conn.cursor()
    cur.execute("select pg_sleep(0.3), %s", (i,))
    return cur.fetchone()[1]


conns = [psycopg2.connect(DSN) for _ in range(4)]
start = time.perf_counter()
jobs = [gevent.spawn(query, conn, i) for i, conn in enumerate(conns)]
gevent.joinall(jobs, raise_error=True)
elapsed = time.perf_counter() - start
assert [job.value for job in jobs] == [0, 1, 2, 3]
print(f"4 queries of 0.3 s in {elapsed:.2f} s")
assert elapsed < 1.0, "the queries did not overlap"
