"""psycopg2 with its patcher switched off: every query holds the hub (libpq waits in C).

Three greenlets each run pg_sleep(0.2): they run one after another, about 0.6 s.
"""
import patchkit

patchkit.patch_all(psycopg2=False)

import os  # noqa: E402

import gevent  # noqa: E402
import psycopg2  # noqa: E402

DSN = os.environ["PATCHKIT_PG_DSN"]


def query(conn):
    cur = conn.cursor()
    cur.execute("select pg_sleep(0.2)")
    return cur.fetchone()


conns = [psycopg2.connect(DSN) for _ in range(3)]
gevent.joinall([gevent.spawn(query, conn) for conn in conns], raise_error=True)
