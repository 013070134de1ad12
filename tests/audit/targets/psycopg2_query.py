"""Queries PostgreSQL through psycopg2: with `--blocking` its patcher is off and the C
driver blocks the hub; without, the patcher's wait callback makes it cooperative."""
import sys

import patchkit

patchkit.patch_all(psycopg2="--blocking" not in sys.argv)

import gevent  # noqa: E402
import psycopg2  # noqa: E402

conn = psycopg2.connect(sys.argv[1])


def query():
    cur = conn.cursor()
    cur.execute("select pg_sleep(0.2)")
    return cur.fetchone()


print(gevent.spawn(query).get())
conn.close()
