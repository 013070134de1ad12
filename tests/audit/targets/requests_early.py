"""Imports requests before patching, then fetches from a local HTTP server."""
import requests

import patchkit

patchkit.patch_all()

import http.server  # noqa: E402
import threading  # noqa: E402


class Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Quiet)
threading.Thread(target=server.serve_forever, daemon=True).start()
url = f"http://127.0.0.1:{server.server_port}/"
for _ in range(3):
    print(requests.get(url, timeout=5).status_code)
server.shutdown()
