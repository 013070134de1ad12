"""The auditor: ``python -m patchkit.audit [options] TARGET`` reports what still blocks the hub.

Detectors (``patchkit.audit.detectors``) observe the running target; findings are
built from their observations after it ends and rendered by ``patchkit.audit.report``.
See ``docs/audit.md`` for the finding kinds and the JSON contract.

``patchkit.audit.start()`` audits the calling process from inside (``api``), for services
whose launcher you don't control.

``Finding``, ``StackFrame``, ``Report``, ``SCHEMA`` and ``start`` load on first use: the audited
process should not carry the report machinery (rich) while the target runs.
"""

import importlib as _importlib
import typing as _typing

from .config import DEFAULT_THRESHOLD as DEFAULT_THRESHOLD
from .config import AuditConfig as AuditConfig

__all__ = ["Audit", "AuditConfig", "DEFAULT_THRESHOLD", "Finding", "Report", "SCHEMA",
           "StackFrame", "start"]

_LAZY = {"Finding": "..model", "StackFrame": "..model", "Report": "..model",
         "SCHEMA": "..model", "start": ".api", "Audit": ".api"}


def __getattr__(name: str) -> _typing.Any:
    if name in _LAZY:
        return getattr(_importlib.import_module(_LAZY[name], __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY})
