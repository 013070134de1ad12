"""grpcio with patchkit's grpc patcher (init_gevent) on: concurrent unary calls overlap.

Six calls to a server method that sleeps 0.3 s finish together in about 0.3 s.
"""
import patchkit

patchkit.patch_all()

import os  # noqa: E402
import time  # noqa: E402

import gevent  # noqa: E402
import grpc  # noqa: E402

channel = grpc.insecure_channel(os.environ["PATCHKIT_GRPC_TARGET"])
sleep = channel.unary_unary("/patchkit.Test/Sleep")
sleep(b"0", timeout=10)
start = time.perf_counter()
calls = [gevent.spawn(sleep, b"0.3", timeout=10) for _ in range(6)]
gevent.joinall(calls, raise_error=True)
elapsed = time.perf_counter() - start
channel.close()
print(f"6 calls of 0.3 s in {elapsed:.2f} s")
assert elapsed < 1.2, "the calls did not overlap"
