"""Resolves a name (gevent's resolver starts its threadpool thread), then imports
psycopg2, whose patcher applies at that import; a query is cooperative. Then the
program drops the patcher's wait callback, and a second query blocks the hub."""
import sys

import patchkit

patchkit.patch_all()

import socket  # noqa: E402

import gevent  # noqa: E402

socket.getaddrinfo("localhost", 5432)
import psycopg2  # noqa: E402
import psycopg2.extensions  # noqa: E402

conn = psycopg2.connect(sys.argv[1])


def query():
    cur = conn.cursor()
    cur.execute("select pg_sleep(0.15)")
    return cur.fetchone()


print(gevent.spawn(query).get())
psycopg2.extensions.set_wait_callback(None)


def blocking_query():
    cur = conn.cursor()
    cur.execute("select pg_sleep(0.2)")
    return cur.fetchone()


print(gevent.spawn(blocking_query).get())
conn.close()
