"""The wait callback's rare paths, driven with a scripted connection (no server needed).

A real server can't be made to finish a query exactly between an interruption and its
cancel, or to ignore a cancel; a fake connection over a socketpair can.
"""

from __future__ import annotations

import json

SCRIPT = r"""
import json, socket, sys, types
import gevent
import patchkit.patches.psycopg2 as pg
pg.CANCEL_GRACE = 0.3

class Conn:
    '''Answers POLL_READ until its socket has data; cancel() scripts what the server does.'''
    OperationalError = RuntimeError
    def __init__(self, status=1, on_cancel="error", cancel_fails=False):
        self.ours, self.server = socket.socketpair()
        self.ours.setblocking(False)
        self.status, self.closed, self.cancels = status, 0, 0
        self.on_cancel, self.cancel_fails = on_cancel, cancel_fails
        self.info = types.SimpleNamespace(error_message=None, dsn_parameters={})
    def fileno(self):
        return self.ours.fileno()
    def poll(self):
        try:
            return 0 if self.ours.recv(1) else 1
        except BlockingIOError:
            return 1
    def cancel(self):
        self.cancels += 1
        if self.cancel_fails:
            raise RuntimeError("could not send the cancel request")
        if self.on_cancel == "interrupted":
            # A second interruption while the callback waits for the cancel: thrown from
            # the loop's next turn, which comes before the cancel's grace period can end
            # (a timer set from the start raced it on a loaded machine).
            gevent.get_hub().loop.run_callback(gevent.getcurrent().throw, KeyError("second"))
            return
        if self.on_cancel == "silent":
            return
        if self.on_cancel == "error":
            self.info.error_message = "ERROR:  canceling statement due to user request\n"
        gevent.spawn_later(0.02, self.server.send, b"x")

def closed():
    conn = Conn()
    conn.closed = 1
    return conn

def attempt(conn, interrupt_after=0.05):
    '''Run the callback under a Timeout; returns what came out of it.'''
    try:
        with gevent.Timeout(interrupt_after):
            pg.gevent_wait_callback(conn)
        out = "returned"
    except gevent.Timeout:
        out = "Timeout"
    except BaseException as exc:
        out = type(exc).__name__
    return {"out": out, "cancels": conn.cancels}

results = {
    "cancelled": attempt(Conn()),
    "finished_anyway": attempt(Conn(on_cancel="finished")),
    "ignored_cancel": attempt(Conn(on_cancel="silent")),
    "second_interruption": attempt(Conn(on_cancel="interrupted")),
    "connecting": attempt(Conn(status=0)),
    "cancel_fails": attempt(Conn(cancel_fails=True)),
    "closed": attempt(closed()),
}
print(json.dumps(results))
"""


def test_interruption_paths(run_py) -> None:
    results = json.loads(run_py(SCRIPT).stdout.strip().splitlines()[-1])
    # The server stopped the query: return normally, psycopg2 raises QueryCanceled.
    assert results["cancelled"] == {"out": "returned", "cancels": 1}
    # The query completed before the cancel arrived: nothing carries the interruption,
    # so it is re-raised (a kill is never swallowed).
    assert results["finished_anyway"] == {"out": "Timeout", "cancels": 1}
    # The server never answered the cancel within CANCEL_GRACE: give the connection up.
    assert results["ignored_cancel"] == {"out": "Timeout", "cancels": 1}
    # A second interruption while waiting for the cancel wins.
    assert results["second_interruption"] == {"out": "KeyError", "cancels": 1}
    # While connecting there is nothing to cancel: psycopg2 drops the half-made connection.
    assert results["connecting"] == {"out": "Timeout", "cancels": 0}
    assert results["cancel_fails"] == {"out": "Timeout", "cancels": 1}
    assert results["closed"] == {"out": "Timeout", "cancels": 0}


CONNECT_TIMEOUT = r"""
import json, os, types
import patchkit.patches.psycopg2 as pg
def conn(value):
    params = {} if value is None else {"connect_timeout": value}
    return types.SimpleNamespace(info=types.SimpleNamespace(dsn_parameters=params))
os.environ.pop("PGCONNECT_TIMEOUT", None)
out = {v: pg._connect_timeout(conn(v)) for v in ["10", "1", "0", "-5", " 3 ", "x"]}
out["unset"] = pg._connect_timeout(conn(None))
os.environ["PGCONNECT_TIMEOUT"] = "7"
out["env"] = pg._connect_timeout(conn(None))
print(json.dumps(out))
"""


def test_connect_timeout_is_read_as_libpq_does(run_py) -> None:
    out = json.loads(run_py(CONNECT_TIMEOUT).stdout)
    assert out == {"10": 10.0, "1": 2.0, "0": None, "-5": None, " 3 ": 3.0, "x": None,
                   "unset": None, "env": 7.0}
