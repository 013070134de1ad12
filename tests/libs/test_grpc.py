"""The grpc patcher with a real local gRPC server (generic handlers, no code generation).

The server runs in its own unpatched process (tests/services.py); the client patches and
makes concurrent calls from greenlets.
"""

from __future__ import annotations

import json

from services import GrpcServer

CLIENT = """
import sys, time, json
import patchkit
patchkit.patch_all(**FLAGS)
import gevent, grpc
ticks = []
def _tick():
    while True:
        gevent.sleep(0.01)
        ticks.append(1)
ticker = gevent.spawn(_tick)
channel = grpc.insecure_channel(sys.argv[1])
echo = channel.unary_unary("/patchkit.Test/Echo")
sleep = channel.unary_unary("/patchkit.Test/Sleep")
assert echo(b"warm-up", timeout=10) == b"warm-up"
ticks.clear()
start = time.perf_counter()
calls = [gevent.spawn(sleep, b"0.5", timeout=20) for _ in range(N)]
gevent.joinall(calls, raise_error=True)
elapsed = time.perf_counter() - start
replies = [g.value.decode() for g in calls]
grpc_swaps = sorted(s.attribute for s in patchkit.ledger() if s.patcher == "grpc")
channel.close()
patchkit.unpatch_all()
from grpc._cython import cygrpc
print(json.dumps({"elapsed": elapsed, "replies": replies, "ticks": len(ticks),
                  "swaps": grpc_swaps, "after_unpatch": cygrpc.g_gevent_activated}))
"""


def _client(run_py, server: GrpcServer, flags: str, n: int) -> dict:
    code = f"FLAGS = {flags}\nN = {n}\n" + CLIENT
    return json.loads(run_py(code, server.target, timeout=90).stdout.strip().splitlines()[-1])


def test_concurrent_calls_complete_concurrently(run_py, grpc_server: GrpcServer) -> None:
    result = _client(run_py, grpc_server, "{}", 8)
    assert result["replies"] == ["0.5"] * 8
    assert 0.45 < result["elapsed"] < 1.6, result  # serial would be 4 s
    assert result["ticks"] >= 5, result  # a tick per 100 ms at least: a blocked hub gives none
    assert "g_gevent_activated" in result["swaps"], result  # recorded in the ledger...
    assert result["after_unpatch"] is False  # ...and undone


def test_patcher_off_calls_block_the_hub(run_py, grpc_server: GrpcServer) -> None:
    result = _client(run_py, grpc_server, "{'grpc': False}", 3)
    assert result["replies"] == ["0.5"] * 3
    assert result["elapsed"] > 1.4, result  # 3 x 0.5 s, one after another
    assert result["ticks"] < 10 and result["swaps"] == [], result
