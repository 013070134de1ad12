"""The call site of a stack: the innermost frame of the program's own code or of a package.

Kept apart from ``findings`` (and its advice and knowledge base) so the production
monitor can name a site without importing the audit's report machinery.
"""

from __future__ import annotations

from dataclasses import dataclass

from .detectors.imports import Attribution
from .frames import FrameInfo, Stack

__all__ = ["Site", "find_site"]


@dataclass(frozen=True, slots=True)
class Site:
    """The frame a finding is filed under, its package, and what it called."""

    frame: FrameInfo | None
    package: str | None
    called: FrameInfo | None = None


def find_site(stack: Stack, attribution: Attribution) -> Site:
    """The innermost app or third-party frame of *stack*, and the frame it called."""
    for index in range(len(stack) - 1, -1, -1):
        origin, dist = attribution.classify(stack[index])
        if origin in ("app", "third-party"):
            called = stack[index + 1] if index + 1 < len(stack) else None
            return Site(stack[index], dist, called)
    return Site(stack[-1] if stack else None, None)
