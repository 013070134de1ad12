"""grpc: ``grpc.experimental.gevent.init_gevent()``, at the moment gRPC documents.

grpcio's C core waits on its completion queues itself; ``init_gevent()`` makes its Cython
layer do those waits in gevent's threadpool and run its callbacks as greenlets. gRPC
requires the call *after* the standard library is patched and *before* any gRPC object
(channel, server) exists. As a library patcher it runs in registry order after the
stdlib patchers when ``grpc`` was imported before ``patch_all()``, and at ``import grpc``
otherwise -- the earliest moment either way, so channels created afterwards are
cooperative. Channels created before it stay blocking.

``init_gevent()`` keeps its state in module globals of ``grpc._cython.cygrpc``
(``g_gevent_activated``, ``g_gevent_threadpool``, ``g_gevent_pool``, the async callback
function), so the ledger records each of them and ``unpatch_all()`` restores them; gRPC
then waits natively again for channels created afterwards. Two effects cannot be undone
from Python and are harmless once deactivated: an ``atexit`` hook that releases gRPC's
callback greenlet, and the interrupt-check period (2 s instead of 0.2 s for Ctrl-C).
"""

from __future__ import annotations

from ..registry import PatcherSpec

__all__ = ["PATCHER"]


def _apply() -> None:
    from grpc.experimental import gevent as grpc_gevent

    grpc_gevent.init_gevent()


PATCHER = PatcherSpec(
    name="grpc",
    targets=("grpc._cython.cygrpc",),
    on_import="grpc",
    source="grpc.experimental.gevent",
    apply=_apply,
    after=("threading", "socket"),
    description="grpc.experimental.gevent.init_gevent(): gRPC's waits run in gevent's "
                "threadpool",
)
