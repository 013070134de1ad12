"""ldap3 (pure Python) after patch_all(): cooperative.

Binds and searches against a real slapd, then four connections wait at once for a
server that accepts and never answers, each given up by a 0.3 s gevent.Timeout (which can
only fire because the wait yields): about 0.3 s in all.
"""
import patchkit

patchkit.patch_all()

import os  # noqa: E402
import socket  # noqa: E402
import time  # noqa: E402

import gevent  # noqa: E402
import ldap3  # noqa: E402

BASE = os.environ["PATCHKIT_LDAP_BASE"]
host_port = os.environ["PATCHKIT_LDAP_URL"].split("//")[1].strip("/")
real = ldap3.Connection(ldap3.Server(f"ldap://{host_port}"), os.environ["PATCHKIT_LDAP_BIND"],
                        os.environ["PATCHKIT_LDAP_PASSWORD"], auto_bind=True)
real.search(BASE, "(cn=reader)")
assert [entry.entry_dn for entry in real.entries] == [f"cn=reader,{BASE}"], real.entries
real.unbind()

silent = socket.socket()  # accepts (the kernel's backlog) and never answers
silent.bind(("127.0.0.1", 0))
silent.listen(16)
silent_port = silent.getsockname()[1]


def stuck_bind():
    server = ldap3.Server("127.0.0.1", port=silent_port, connect_timeout=0.3)
    conn = ldap3.Connection(server, "cn=nobody", "x", receive_timeout=5)
    with gevent.Timeout(0.3, False):
        conn.bind()
        return "bound"
    return "timed out"


start = time.perf_counter()
jobs = [gevent.spawn(stuck_bind) for _ in range(4)]
gevent.joinall(jobs, raise_error=True)
elapsed = time.perf_counter() - start
assert [job.value for job in jobs] == ["timed out"] * 4, [job.value for job in jobs]
print(f"4 binds of 0.3 s in {elapsed:.2f} s")
assert elapsed < 0.8, "the binds did not overlap"  # one after another: 1.2 s
