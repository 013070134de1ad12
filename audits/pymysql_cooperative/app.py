"""PyMySQL (pure Python) against MariaDB: cooperative once patched.

Four connections each run SELECT SLEEP(0.3) concurrently: about 0.3 s in all.
"""
import patchkit

patchkit.patch_all()

import os  # noqa: E402
import time  # noqa: E402

import gevent  # noqa: E402
import pymysql  # noqa: E402

SOCKET = os.environ["PATCHKIT_MYSQL_SOCKET"]


def query(i):
    conn = pymysql.connect(unix_socket=SOCKET, user="root")
    try:
        with conn.cursor() as cur:
            cur.execute("select sleep(0.3), %s", (i,))
            return cur.fetchone()[1]
    finally:
        conn.close()


start = time.perf_counter()
jobs = [gevent.spawn(query, i) for i in range(4)]
gevent.joinall(jobs, raise_error=True)
elapsed = time.perf_counter() - start
assert [job.value for job in jobs] == [0, 1, 2, 3]
print(f"4 queries of 0.3 s in {elapsed:.2f} s")
assert elapsed < 1.0, "the queries did not overlap"
