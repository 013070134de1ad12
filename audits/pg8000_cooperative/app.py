"""pg8000 (pure Python) against PostgreSQL on its unix socket: cooperative once patched.

Four connections (opened first) each run pg_sleep(0.5) concurrently: about 0.5 s in all;
one after another would take 2 s.
"""
import patchkit

patchkit.patch_all()

import os  # noqa: E402
import time  # noqa: E402

import gevent  # noqa: E402
import pg8000.native  # noqa: E402

params = dict(item.split("=", 1) for item in os.environ["PATCHKIT_PG_DSN"].split())
SOCKET = os.path.join(params["host"], f".s.PGSQL.{params['port']}")


def query(conn, i):
    return conn.run("select pg_sleep(0.5), cast(:i as int)", i=i)[0][1]


conns = [pg8000.native.Connection(params["user"], unix_sock=SOCKET, database=params["dbname"])
         for _ in range(4)]
start = time.perf_counter()
jobs = [gevent.spawn(query, conn, i) for i, conn in enumerate(conns)]
gevent.joinall(jobs, raise_error=True)
elapsed = time.perf_counter() - start
assert [job.value for job in jobs] == [0, 1, 2, 3]
print(f"4 queries of 0.5 s in {elapsed:.2f} s")
assert elapsed < 1.2, "the queries did not overlap"
for conn in conns:
    conn.close()
