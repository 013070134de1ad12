"""pycurl in gevent's threadpool: perform() releases the GIL, so the hub keeps serving.

The slow server is a greenlet in this process: it can only answer because the hub runs
while libcurl waits in a pool thread. Four transfers of 0.2 s overlap.
"""
import patchkit

patchkit.patch_all()

import io  # noqa: E402
import time  # noqa: E402

import gevent  # noqa: E402
import pycurl  # noqa: E402
from gevent.pywsgi import WSGIServer  # noqa: E402


def slow_hello(environ, start_response):
    gevent.sleep(0.2)
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"hello"]


server = WSGIServer(("127.0.0.1", 0), slow_hello, log=None)
server.start()
url = f"http://127.0.0.1:{server.server_port}/"


def transfer():
    body = io.BytesIO()
    curl = pycurl.Curl()
    curl.setopt(pycurl.URL, url)
    curl.setopt(pycurl.TIMEOUT, 5)
    curl.setopt(pycurl.WRITEDATA, body)
    try:
        curl.perform()
    finally:
        curl.close()
    return body.getvalue()


def fetch():
    return gevent.get_hub().threadpool.apply(transfer)


start = time.perf_counter()
jobs = [gevent.spawn(fetch) for _ in range(4)]
gevent.joinall(jobs, raise_error=True)
elapsed = time.perf_counter() - start
server.stop()
assert [job.value for job in jobs] == [b"hello"] * 4
print(f"4 transfers in {elapsed:.2f} s")
assert elapsed < 0.5, "the transfers did not overlap"  # one after another: 0.8 s
