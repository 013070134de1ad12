"""pycurl: libcurl's perform() waits on its socket in C, holding the hub.

The server accepts connections (the kernel's backlog completes the handshake) and
never answers; each transfer waits its whole 0.15 s timeout inside libcurl.
"""
import patchkit

patchkit.patch_all()

import socket  # noqa: E402

import gevent  # noqa: E402
import pycurl  # noqa: E402

silent = socket.socket()
silent.bind(("127.0.0.1", 0))
silent.listen(16)
url = f"http://127.0.0.1:{silent.getsockname()[1]}/"


def fetch():
    curl = pycurl.Curl()
    curl.setopt(pycurl.URL, url)
    curl.setopt(pycurl.TIMEOUT_MS, 150)
    curl.setopt(pycurl.WRITEFUNCTION, lambda data: None)
    try:
        curl.perform()
    except pycurl.error as exc:
        return exc.args[0]
    finally:
        curl.close()


jobs = [gevent.spawn(fetch) for _ in range(2)]
gevent.joinall(jobs, raise_error=True)
assert [job.value for job in jobs] == [pycurl.E_OPERATION_TIMEDOUT] * 2, [j.value for j in jobs]
