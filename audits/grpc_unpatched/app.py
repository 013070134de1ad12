"""grpcio with its patcher switched off: each call waits in gRPC's C core, holding the hub."""
import patchkit

patchkit.patch_all(grpc=False)

import os  # noqa: E402

import gevent  # noqa: E402
import grpc  # noqa: E402

channel = grpc.insecure_channel(os.environ["PATCHKIT_GRPC_TARGET"])
sleep = channel.unary_unary("/patchkit.Test/Sleep")
sleep(b"0", timeout=10)
calls = [gevent.spawn(sleep, b"0.2", timeout=10) for _ in range(3)]
gevent.joinall(calls, raise_error=True)
channel.close()
