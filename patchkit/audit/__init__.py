"""The auditor: ``python -m patchkit.audit [options] TARGET`` reports what still blocks the hub.

Detectors (``patchkit.audit.detectors``) observe the running target; findings are
built from their observations after it ends and rendered by ``patchkit.audit.report``.
See ``docs/audit.md`` for the finding kinds and the JSON contract.

``Finding``, ``StackFrame``, ``Report`` and ``SCHEMA`` load on first use: the audited
process should not carry the report machinery (rich) while the target runs.
"""

from __future__ import annotations

import importlib
from typing import Any

from .config import DEFAULT_THRESHOLD as DEFAULT_THRESHOLD
from .config import AuditConfig as AuditConfig

__all__ = ["AuditConfig", "DEFAULT_THRESHOLD", "Finding", "Report", "SCHEMA", "StackFrame"]

_LAZY = {"Finding": ".findings", "StackFrame": ".findings", "Report": ".report",
         "SCHEMA": ".report"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name], __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
