"""psycopg 3 imported *before* patch_all(): does its import-time choice of wait function stick?

psycopg.waiting picks its wait function when it is imported; this imports psycopg first,
then patches, then runs three pg_sleep(0.2) queries concurrently.
"""
import psycopg  # imported first, on purpose

import patchkit

patchkit.patch_all()

import os  # noqa: E402

import gevent  # noqa: E402

DSN = os.environ["PATCHKIT_PG_DSN"]


def query(conn):
    return conn.execute("select pg_sleep(0.2)").fetchone()


conns = [psycopg.connect(DSN, autocommit=True) for _ in range(3)]
gevent.joinall([gevent.spawn(query, conn) for conn in conns], raise_error=True)
