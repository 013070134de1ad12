"""Patch conformance: CPython's regression tests run unpatched, under gevent and under patchkit.

``python -m patchkit.conformance`` (see ``docs/conformance.md``). The report is plain
dataclasses (:mod:`.model`) with a JSON form that :func:`from_json` reads back.
"""

from __future__ import annotations

from .known import KnownDivergence as KnownDivergence
from .known import divergences as divergences
from .known import load_known as load_known
from .model import COLUMNS as COLUMNS
from .model import SCHEMA as SCHEMA
from .model import ColumnRun as ColumnRun
from .model import Divergence as Divergence
from .model import Report as Report
from .model import TestOutcome as TestOutcome
from .model import counts as counts
from .model import from_json as from_json
from .model import to_json as to_json
from ._runner import RunOptions as RunOptions
from ._runner import run_all as run_all
from ._runner import run_column as run_column

__all__ = ["COLUMNS", "SCHEMA", "ColumnRun", "Divergence", "KnownDivergence", "Report",
           "RunOptions", "TestOutcome", "counts", "divergences", "from_json", "load_known",
           "run_all", "run_column", "to_json"]
