"""python-ldap: libldap waits in C, holding the hub for as long as the server takes.

A search against a real slapd works; then two greenlets each bind to a server that
accepts and never answers, waiting out their 0.15 s timeout inside libldap.
"""
import patchkit

patchkit.patch_all()

import os  # noqa: E402
import socket  # noqa: E402

import gevent  # noqa: E402
import ldap  # noqa: E402

real = ldap.initialize(os.environ["PATCHKIT_LDAP_URL"])
real.simple_bind_s(os.environ["PATCHKIT_LDAP_BIND"], os.environ["PATCHKIT_LDAP_PASSWORD"])
found = real.search_s(os.environ["PATCHKIT_LDAP_BASE"], ldap.SCOPE_SUBTREE, "(cn=reader)")
assert [dn for dn, _ in found] == ["cn=reader," + os.environ["PATCHKIT_LDAP_BASE"]], found
real.unbind_s()

silent = socket.socket()  # accepts (the kernel's backlog) and never answers
silent.bind(("127.0.0.1", 0))
silent.listen(16)
silent_port = silent.getsockname()[1]


def stuck_bind():
    conn = ldap.initialize(f"ldap://127.0.0.1:{silent_port}")
    conn.set_option(ldap.OPT_TIMEOUT, 0.15)
    conn.set_option(ldap.OPT_NETWORK_TIMEOUT, 0.15)
    try:
        conn.simple_bind_s("cn=nobody", "x")
        return "bound"
    except ldap.TIMEOUT:
        return "timed out"


jobs = [gevent.spawn(stuck_bind) for _ in range(2)]
gevent.joinall(jobs, raise_error=True)
assert [job.value for job in jobs] == ["timed out"] * 2, [job.value for job in jobs]
