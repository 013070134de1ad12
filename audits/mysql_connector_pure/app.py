"""mysql-connector-python with use_pure=True: the pure-Python protocol is cooperative.

Four connections (opened first) each run SELECT SLEEP(0.5) concurrently: about 0.5 s in
all; one after another would take 2 s.
"""
import patchkit

patchkit.patch_all()

import os  # noqa: E402
import time  # noqa: E402

import gevent  # noqa: E402
import mysql.connector  # noqa: E402

SOCKET = os.environ["PATCHKIT_MYSQL_SOCKET"]


def query(conn, i):
    cur = conn.cursor()
    cur.execute("select sleep(0.5), %s", (i,))
    return cur.fetchone()[1]


conns = [mysql.connector.connect(unix_socket=SOCKET, user="root", use_pure=True)
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
