"""A small Flask app for the deployment tests: views that block the hub and one that does not.

Every response body is ``<view> <worker pid>`` so a client can tell which worker served it.
"""
import ctypes
import os
import time

from flask import Flask

app = Flask(__name__)
libc = ctypes.CDLL(None)


@app.route("/block")
def block():
    libc.usleep(80_000)  # a C call that never yields: holds this worker's hub for 80 ms
    return f"block {os.getpid()}"


@app.route("/cpu")
def cpu():
    deadline = time.perf_counter() + 0.1
    while time.perf_counter() < deadline:  # Python CPU work that never yields
        pass
    return f"cpu {os.getpid()}"


@app.route("/hang")
def hang():
    libc.sleep(10)  # holds the hub until gunicorn's master kills this worker (--timeout)
    return f"hang {os.getpid()}"


@app.route("/coop")
def coop():
    time.sleep(0.001)  # patched by the worker: yields to the hub
    return f"coop {os.getpid()}"
