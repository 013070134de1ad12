"""The zmq patcher: zmq.green's classes on the zmq module, recorded, undone, deferred.

Each test runs in a fresh interpreter (it patches).
"""

from __future__ import annotations

import json

import pytest

pytest.importorskip("zmq")

REPORT = """
import json, zmq, zmq.green, zmq.sugar.context
print(json.dumps({"green": zmq.Context is zmq.green.Context and zmq.Socket is zmq.green.Socket
                  and zmq.Poller is zmq.green.Poller and zmq.device is zmq.green.device,
                  "original": zmq.Context is zmq.sugar.context.Context,
                  "applied": "zmq" in patchkit.applied()}))
"""


def _last(proc) -> dict:
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_applied_when_zmq_is_imported_after_patch_all(run_py) -> None:
    proc = run_py("import warnings, patchkit\nwarnings.simplefilter('error')\n"
                  "patchkit.patch_all()\nimport zmq\n" + REPORT)
    assert _last(proc) == {"green": True, "original": False, "applied": True}


def test_applied_when_zmq_was_imported_before(run_py) -> None:
    proc = run_py("import zmq\nimport patchkit\npatchkit.patch_all()\n" + REPORT)
    assert _last(proc) == {"green": True, "original": False, "applied": True}


def test_switched_off_by_name(run_py) -> None:
    proc = run_py("import patchkit\npatchkit.patch_all(zmq=False)\nimport zmq\n" + REPORT)
    assert _last(proc) == {"green": False, "original": True, "applied": False}


def test_unpatch_all_restores_the_originals(run_py) -> None:
    proc = run_py("import patchkit\npatchkit.patch_all()\nimport zmq\npatchkit.unpatch_all()\n"
                  + REPORT)
    assert _last(proc) == {"green": False, "original": True, "applied": False}


def test_the_ledger_records_each_swap(run_py) -> None:
    proc = run_py("""
import json, patchkit
patchkit.patch_all()
import zmq
swaps = sorted(f"{s.module}.{s.attribute}" for s in patchkit.ledger()
               if s.patcher == "zmq")
print(json.dumps(swaps))
""")
    assert _last_list(proc) == ["zmq.Context", "zmq.Poller", "zmq.Socket", "zmq.device"]


def _last_list(proc) -> list:
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_green_sockets_wait_cooperatively(run_py) -> None:
    # A REP greenlet answers after 0.2 s; with a blocking recv() it could never run.
    proc = run_py("""
import json, time, patchkit
patchkit.patch_all()
import gevent, zmq
ctx = zmq.Context.instance()
rep = ctx.socket(zmq.REP)
port = rep.bind_to_random_port("tcp://127.0.0.1")
def serve():
    rep.recv(); gevent.sleep(0.2); rep.send(b"pong")
ticks = []
def tick():
    while True:
        gevent.sleep(0.01); ticks.append(1)
gevent.spawn(serve); ticker = gevent.spawn(tick)
req = ctx.socket(zmq.REQ)
req.connect(f"tcp://127.0.0.1:{port}")
start = time.perf_counter()
req.send(b"ping")
answer = req.recv()
print(json.dumps({"answer": answer.decode(), "elapsed": time.perf_counter() - start,
                  "ticks": len(ticks)}))
""")
    result = _last(proc)
    assert result["answer"] == "pong" and 0.15 < result["elapsed"] < 2, result
    assert result["ticks"] >= 2, result  # the hub ran while recv() waited (blocked: none)


def test_pyzmq_internals_are_not_reported_as_stale(run_py) -> None:
    proc = run_py("import zmq.green\nimport patchkit\npatchkit.patch_all()\n", check=False)
    assert proc.returncode == 0, proc.stderr
    assert "zmq.green" not in proc.stderr and "subclasses zmq." not in proc.stderr, proc.stderr


def test_pyzmq_modules_that_subscript_its_classes_still_import(run_py) -> None:
    # zmq.asyncio subclasses zmq.Socket[Future] at import (pyzmq 27): with green's class
    # in its place it raised "is not a generic class" -- pyzmq's own suite would not load.
    proc = run_py("import patchkit\npatchkit.patch_all()\nimport json, zmq, zmq.green\n"
                  "import zmq.asyncio, zmq.utils.monitor\n"
                  "print(json.dumps({'asyncio_green': issubclass(zmq.asyncio.Socket, "
                  "zmq.green.Socket), 'context_green': type(zmq.Context().socket(zmq.PAIR))"
                  " is zmq.green.Socket}))")
    assert _last(proc) == {"asyncio_green": False, "context_green": True}, proc.stderr
