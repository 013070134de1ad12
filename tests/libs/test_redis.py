"""redis-py is cooperative once patched: concurrent blocking pops against a real redis-server."""

from __future__ import annotations

import json

from services import Redis


def test_concurrent_blocking_pops_overlap(run_py, redis_server: Redis) -> None:
    out = run_py("""
        import sys, time, json
        import patchkit; patchkit.patch_all()
        import gevent, redis
        client = redis.Redis.from_url(sys.argv[1])
        client.delete("patchkit:empty")
        start = time.perf_counter()
        pops = [gevent.spawn(client.blpop, ["patchkit:empty"], timeout=0.5) for _ in range(6)]
        gevent.joinall(pops, raise_error=True)
        print(json.dumps({"elapsed": time.perf_counter() - start,
                          "values": [g.value for g in pops]}))
    """, redis_server.url).stdout
    result = json.loads(out.strip().splitlines()[-1])
    assert result["values"] == [None] * 6
    assert 0.45 < result["elapsed"] < 1.5, result  # serial would be 3 s
