"""requests and urllib3 against a local gevent HTTP server: cooperative once patched.

Eight requests.get and eight urllib3 requests, each answered after 0.1 s, run
concurrently; the whole thing takes about 0.2 s and never holds the hub.
"""
import patchkit

patchkit.patch_all()

import time  # noqa: E402

import gevent  # noqa: E402
import requests  # noqa: E402
import urllib3  # noqa: E402
from gevent.pywsgi import WSGIServer  # noqa: E402


def slow_hello(environ, start_response):
    gevent.sleep(0.1)
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"hello"]


server = WSGIServer(("127.0.0.1", 0), slow_hello, log=None)
server.start()
url = f"http://127.0.0.1:{server.server_port}/"
pool = urllib3.PoolManager(maxsize=8)

start = time.perf_counter()
jobs = [gevent.spawn(lambda: requests.get(url, timeout=5).text) for _ in range(8)]
jobs += [gevent.spawn(lambda: pool.request("GET", url).data.decode()) for _ in range(8)]
gevent.joinall(jobs, raise_error=True)
elapsed = time.perf_counter() - start
server.stop()
assert [job.value for job in jobs] == ["hello"] * 16
print(f"16 requests in {elapsed:.2f} s")
assert elapsed < 1.0, "the requests did not overlap"
