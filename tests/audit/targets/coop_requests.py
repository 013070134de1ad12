"""Patches first, then uses requests against a local http.server: all cooperative."""
import patchkit

patchkit.patch_all()

import http.server  # noqa: E402
import threading  # noqa: E402

import gevent  # noqa: E402
import requests  # noqa: E402


class Quiet(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = b"hello"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Quiet)
threading.Thread(target=server.serve_forever, daemon=True).start()
url = f"http://127.0.0.1:{server.server_port}/"
session = requests.Session()


def fetch(n):
    for _ in range(n):
        assert session.get(url, timeout=5).text == "hello"


gevent.joinall([gevent.spawn(fetch, 5) for _ in range(4)], raise_error=True)
server.shutdown()
print("ok")
