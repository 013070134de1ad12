"""mysql-connector-python with its C extension (the default when it loads): queries hold the hub.

Three greenlets each run SELECT SLEEP(0.2) through CMySQLConnection (libmysqlclient).
"""
import patchkit

patchkit.patch_all()

import os  # noqa: E402

import gevent  # noqa: E402
import mysql.connector  # noqa: E402

assert mysql.connector.HAVE_CEXT, "the C extension did not load (this case needs it)"
SOCKET = os.environ["PATCHKIT_MYSQL_SOCKET"]


def query(conn):
    cur = conn.cursor()
    cur.execute("select sleep(0.2)")
    return cur.fetchall()


conns = [mysql.connector.connect(unix_socket=SOCKET, user="root") for _ in range(3)]
assert all(type(c).__name__ == "CMySQLConnection" for c in conns), type(conns[0])
gevent.joinall([gevent.spawn(query, conn) for conn in conns], raise_error=True)
