"""mysqlclient (MySQLdb) against MariaDB: libmariadb waits in C, every query holds the hub.

Three greenlets each run SELECT SLEEP(0.2): they run one after another, about 0.6 s.
"""
import patchkit

patchkit.patch_all()

import os  # noqa: E402

import gevent  # noqa: E402
import MySQLdb  # noqa: E402

SOCKET = os.environ["PATCHKIT_MYSQL_SOCKET"]


def query(conn):
    cur = conn.cursor()
    cur.execute("select sleep(0.2)")
    return cur.fetchone()


conns = [MySQLdb.connect(unix_socket=SOCKET, user="root") for _ in range(3)]
gevent.joinall([gevent.spawn(query, conn) for conn in conns], raise_error=True)
