"""The app bench_gunicorn serves: a small Flask app with one cooperative view (its body names the
worker pid that answered)."""
import os
import time

from flask import Flask

app = Flask(__name__)


@app.route("/")
def index() -> str:
    time.sleep(0)  # patched in gunicorn's gevent worker: a yield to the hub, as real I/O would
    return f"ok {os.getpid()}"
