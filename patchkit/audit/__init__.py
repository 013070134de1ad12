"""The auditor: ``python -m patchkit.audit [options] TARGET`` reports what still blocks the hub.

Detectors (``patchkit.audit.detectors``) observe the running target; findings are
built from their observations after it ends and rendered by ``patchkit.audit.report``.
See ``docs/audit.md`` for the finding kinds and the JSON contract.
"""

from __future__ import annotations

from .config import DEFAULT_THRESHOLD as DEFAULT_THRESHOLD
from .config import AuditConfig as AuditConfig
from .findings import Finding as Finding
from .findings import StackFrame as StackFrame
from .report import SCHEMA as SCHEMA
from .report import Report as Report

__all__ = ["AuditConfig", "DEFAULT_THRESHOLD", "Finding", "Report", "SCHEMA", "StackFrame"]
