"""The built-in patchers, one module each, in gevent's ``patch_all`` order.

Each module defines ``PATCHER``, a :class:`patchkit.registry.PatcherSpec`.
"""

from __future__ import annotations

import importlib

from ..registry import PatcherSpec

__all__ = ["BUILTIN", "builtin_specs"]

BUILTIN: tuple[str, ...] = ("os", "threading", "time", "socket", "dns", "select", "ssl",
                           "subprocess", "signal", "queue")

# Keeps pytest-xdist's transport working in a patched worker (see patches/execnet.py).
BUILTIN += ("execnet",)

# Library patchers, applied when their library is imported (patches/psycopg2.py, grpc.py,
# zmq.py).
BUILTIN += ("psycopg2", "grpc", "zmq")


def builtin_specs() -> list[PatcherSpec]:
    return [importlib.import_module(f"{__name__}.{name}").PATCHER for name in BUILTIN]
