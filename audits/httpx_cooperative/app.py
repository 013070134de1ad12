"""httpx's sync Client against a local gevent HTTP server: cooperative once patched.

Six requests, each answered after 0.2 s, run concurrently in about 0.2 s.
"""
import patchkit

patchkit.patch_all()

import time  # noqa: E402

import anyio  # noqa: E402,F401  (httpx imports it on the first Client: a start-up cost, not this case's)
import gevent  # noqa: E402
import httpx  # noqa: E402
from gevent.pywsgi import WSGIServer  # noqa: E402


def slow_hello(environ, start_response):
    gevent.sleep(0.2)
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"hello"]


server = WSGIServer(("127.0.0.1", 0), slow_hello, log=None)
server.start()
url = f"http://127.0.0.1:{server.server_port}/"
client = httpx.Client(timeout=5, limits=httpx.Limits(max_connections=6))

start = time.perf_counter()
jobs = [gevent.spawn(lambda: client.get(url).text) for _ in range(6)]
gevent.joinall(jobs, raise_error=True)
elapsed = time.perf_counter() - start
client.close()
server.stop()
assert [job.value for job in jobs] == ["hello"] * 6
print(f"6 requests in {elapsed:.2f} s")
assert elapsed < 0.7, "the requests did not overlap"  # one after another: 1.2 s
