"""sqlite3 (standard library): a writer waiting for a locked database sleeps in C.

One connection holds the write lock; two greenlets try to write with a 0.15 s busy
timeout. SQLite's busy handler sleeps on the hub's thread until it gives up.
"""
import patchkit

patchkit.patch_all()

import os  # noqa: E402
import sqlite3  # noqa: E402
import tempfile  # noqa: E402

import gevent  # noqa: E402

path = os.path.join(tempfile.mkdtemp(prefix="patchkit-sqlite-"), "app.db")
holder = sqlite3.connect(path, isolation_level=None)
holder.execute("create table jobs (id integer primary key, name text)")
holder.execute("begin exclusive")


def enqueue(name):
    conn = sqlite3.connect(path, timeout=0.15)
    try:
        conn.execute("insert into jobs (name) values (?)", (name,))
        return "written"
    except sqlite3.OperationalError as exc:
        return str(exc)
    finally:
        conn.close()


jobs = [gevent.spawn(enqueue, f"job{i}") for i in range(2)]
gevent.joinall(jobs, raise_error=True)
holder.execute("rollback")
assert [job.value for job in jobs] == ["database is locked"] * 2, [job.value for job in jobs]
