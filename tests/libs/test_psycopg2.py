"""The psycopg2 patcher against a real PostgreSQL: concurrency, connect_timeout, cancel, undo.

Each test runs its program in a fresh interpreter (it patches); the server is the
session's (tests/services.py), reached on a unix socket given as argv[1].
"""

from __future__ import annotations

import json

from services import Postgres

PRELUDE = """
import sys, time, json
DSN = sys.argv[1]
"""

# A greenlet counting 10 ms ticks: proof that the hub kept running while we waited.
TICKER = """
import gevent
ticks = []
def _tick():
    while True:
        gevent.sleep(0.01)
        ticks.append(1)
ticker = gevent.spawn(_tick)
"""


def _run(run_py, pg: Postgres, body: str, timeout: float = 60) -> dict:
    out = run_py(PRELUDE + body, pg.dsn, timeout=timeout).stdout
    return json.loads(out.strip().splitlines()[-1])


CONCURRENT = TICKER + """
import psycopg2
conns = [psycopg2.connect(DSN) for _ in range(N)]
def query(i):
    cur = conns[i].cursor()
    cur.execute("select pg_sleep(0.5), %s * 10", (i,))
    return cur.fetchone()[1]
start = time.perf_counter()
greenlets = [gevent.spawn(query, i) for i in range(N)]
gevent.joinall(greenlets, raise_error=True)
elapsed = time.perf_counter() - start
print(json.dumps({"elapsed": elapsed, "results": [g.value for g in greenlets],
                  "ticks": len(ticks)}))
"""


def test_concurrent_queries_take_about_the_time_of_one(run_py, postgres: Postgres) -> None:
    result = _run(run_py, postgres, "import patchkit; patchkit.patch_all()\nN = 8\n" + CONCURRENT)
    assert result["results"] == [i * 10 for i in range(8)]
    assert 0.45 < result["elapsed"] < 1.5, result  # serial would be 4 s
    # A tick per 100 ms at least (each 10 ms tick is stretched by a loaded machine's wake-ups;
    # a blocked hub gives none).
    assert result["ticks"] >= 5, result


def test_patcher_off_queries_serialize(run_py, postgres: Postgres) -> None:
    result = _run(run_py, postgres,
                  "import patchkit; patchkit.patch_all(psycopg2=False)\nN = 4\n" + CONCURRENT)
    assert result["results"] == [0, 10, 20, 30]
    assert result["elapsed"] > 1.9, result  # 4 x 0.5 s, one after another
    assert result["ticks"] < 10, result  # and the hub was blocked meanwhile


def test_applied_when_psycopg2_was_imported_before_patch_all(run_py, postgres: Postgres) -> None:
    result = _run(run_py, postgres, """
import psycopg2, psycopg2.extensions as ext
before = ext.get_wait_callback()
import patchkit; patchkit.patch_all()
from patchkit.patches.psycopg2 import gevent_wait_callback
print(json.dumps({"before": before is None, "now": ext.get_wait_callback() is gevent_wait_callback,
                  "applied": "psycopg2" in patchkit.applied()}))
""")
    assert result == {"before": True, "now": True, "applied": True}


def test_connect_timeout_still_applies(run_py, postgres: Postgres) -> None:
    # A listening socket whose backlog completes the TCP handshake but never answers:
    # libpq waits for the server's reply until connect_timeout (at least 2 s) expires.
    result = _run(run_py, postgres, "import patchkit; patchkit.patch_all()\n" + TICKER + """
import socket, psycopg2
silent = socket.socket()
silent.bind(("127.0.0.1", 0))
silent.listen(8)
port = silent.getsockname()[1]
start = time.perf_counter()
try:
    psycopg2.connect(host="127.0.0.1", port=port, user="x", dbname="x", connect_timeout=2,
                     sslmode="disable", gssencmode="disable")
    error = None
except psycopg2.OperationalError as exc:
    error = str(exc)
print(json.dumps({"error": error, "elapsed": time.perf_counter() - start, "ticks": len(ticks)}))
""")
    assert result["error"] == "timeout expired", result
    assert 1.9 < result["elapsed"] < 4, result
    assert result["ticks"] >= 20, result  # waited cooperatively: a tick per 100 ms at least


CANCEL_CHECK = """
import psycopg2
from psycopg2 import errors
conn = psycopg2.connect(DSN)
watcher = psycopg2.connect(DSN)
watcher.autocommit = True
def running_sleeps():
    cur = watcher.cursor()
    cur.execute("select count(*) from pg_stat_activity where state = 'active' "
                "and query like 'select pg_sleep(30)%%' and pid <> pg_backend_pid()")
    return cur.fetchone()[0]
def usable():
    conn.rollback()
    cur = conn.cursor()
    cur.execute("select 41 + 1")
    return cur.fetchone()[0]
"""


def test_gevent_timeout_cancels_the_query_and_the_connection_stays_usable(
        run_py, postgres: Postgres) -> None:
    result = _run(run_py, postgres, "import patchkit; patchkit.patch_all()\nimport gevent\n"
                  + CANCEL_CHECK + """
start = time.perf_counter()
try:
    with gevent.Timeout(0.3):
        conn.cursor().execute("select pg_sleep(30)")
    raised = None
except BaseException as exc:
    raised = type(exc).__name__
print(json.dumps({"raised": raised, "elapsed": time.perf_counter() - start,
                  "running": running_sleeps(), "closed": conn.closed, "usable": usable()}))
""")
    assert result["raised"] == "QueryCanceled", result
    assert result["elapsed"] < 2, result
    assert result == {**result, "running": 0, "closed": 0, "usable": 42}


def test_killed_greenlet_cancels_the_query_and_the_connection_stays_usable(
        run_py, postgres: Postgres) -> None:
    result = _run(run_py, postgres, "import patchkit; patchkit.patch_all()\nimport gevent\n"
                  + CANCEL_CHECK + """
gevent.get_hub().exception_stream = None  # the greenlet's QueryCanceled is expected
worker = gevent.spawn(lambda: conn.cursor().execute("select pg_sleep(30)"))
gevent.sleep(0.3)
busy = running_sleeps()
start = time.perf_counter()
worker.kill(timeout=5)
print(json.dumps({"busy": busy, "dead": worker.dead, "kill_s": time.perf_counter() - start,
                  "exception": type(worker.exception).__name__, "running": running_sleeps(),
                  "closed": conn.closed, "usable": usable()}))
""")
    assert result["busy"] == 1, result
    assert result["dead"] and result["kill_s"] < 2, result
    assert result["exception"] == "QueryCanceled", result
    assert result == {**result, "running": 0, "closed": 0, "usable": 42}


def test_ledger_records_the_callback_and_unpatch_restores_the_previous_one(
        run_py, postgres: Postgres) -> None:
    result = _run(run_py, postgres, """
import psycopg2.extensions as ext, psycopg2.extras
ext.set_wait_callback(psycopg2.extras.wait_select)
import patchkit; patchkit.patch_all()
from patchkit.patches.psycopg2 import gevent_wait_callback
swaps = [s for s in patchkit.ledger() if s.patcher == "psycopg2"]
recorded = [(s.module, s.attribute, s.original is psycopg2.extras.wait_select,
             s.replacement is gevent_wait_callback) for s in swaps]
patched = ext.get_wait_callback() is gevent_wait_callback
patchkit.unpatch_all()
print(json.dumps({"recorded": recorded, "patched": patched,
                  "restored": ext.get_wait_callback() is psycopg2.extras.wait_select,
                  "applied": patchkit.applied()}))
""")
    assert result == {"recorded": [["psycopg2.extensions", "wait_callback", True, True]],
                      "patched": True, "restored": True, "applied": []}
