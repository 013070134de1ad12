"""Text of the pytest plugin's failures, allow rules, and the check for undone patching."""

from __future__ import annotations

import os
import sys
from typing import Any

import pytest

from .audit.findings import Finding

__all__ = ["describe", "allowed", "reverted_patches"]


def describe(finding: Finding) -> str:
    """A finding as the lines a failing test's report shows."""
    where = f"{finding.file}:{finding.line}" if finding.file else "<unknown>"
    head = (f"{finding.kind} at {where} in {finding.function or '?'}"
            f"  [package: {finding.package or 'app'}"
            + (f", callee: {finding.callee}" if finding.callee else "") + "]")
    timing = (f"  {finding.count}x, total {finding.total_s * 1000:.1f} ms, "
              f"max {finding.max_s * 1000:.1f} ms" if finding.total_s else
              f"  {finding.count}x")
    lines = [head, timing, f"  {finding.message}"]
    if finding.fix:
        lines.append(f"  fix: {finding.fix}")
    stack = [f for f in finding.stack if not _is_pytest_machinery(f.file)]
    if stack:
        lines.append("  stack (innermost last):")
        lines += [f"    {f.file}:{f.line} in {f.function}" for f in stack[-8:]]
    return "\n".join(lines)


_MACHINERY = (f"{os.sep}_pytest{os.sep}", f"{os.sep}pluggy{os.sep}")


def _is_pytest_machinery(path: str) -> bool:
    return any(part in path for part in _MACHINERY)


def _matches(finding: Finding, rule: str) -> bool:
    package = (finding.package or "app").lower().replace("_", "-")
    if rule.lower().replace("_", "-") == package:
        return True
    path, _, line = rule.partition(":")
    if not finding.file or not ("/" in path or path.endswith(".py")):
        return False
    file_ok = os.path.normpath(finding.file).endswith(os.path.normpath(path))
    return file_ok and (not line or line == str(finding.line))


def allowed(finding: Finding, item: pytest.Item, ini_rules: tuple[str, ...]) -> bool:
    """Whether a marker on *item* or an ini rule lets this finding pass."""
    if any(_matches(finding, rule) for rule in ini_rules):
        return True
    for mark in item.iter_markers("allow_blocking"):
        packages = mark.args
        max_duration = mark.kwargs.get("max_duration")
        if packages and not any(_matches(finding, p) for p in packages):
            continue
        if max_duration is not None and finding.max_s > float(max_duration):
            continue
        return True
    return False


def reverted_patches(plugin: Any) -> list[str]:
    """Patches another plugin undid during this test (pytest-socket restores socket.socket
    after every test); each is put back and reported once."""
    problems = []
    for module, swap in _watched(plugin):
        current = getattr(module, swap.attribute, swap.replacement)
        if current is swap.replacement or current is not swap.original:
            continue
        if swap.key not in plugin.reverted:
            plugin.reverted.add(swap.key)
            problems.append(
                f"{swap.module}.{swap.attribute} was restored to the unpatched original "
                "during this test by something other than patchkit (pytest-socket does this "
                "after every test; run with -p no:socket). patchkit put the patch back; "
                "tests before this point may have run unpatched.")
        setattr(module, swap.attribute, swap.replacement)
    return problems


def _watched(plugin: Any) -> list[tuple[Any, Any]]:
    """``(module, swap)`` for every attribute swap in force, rebuilt when the ledger changes
    (this runs after every test, so it must not walk the ledger each time)."""
    import patchkit

    cache = plugin.__dict__.setdefault("_watched_cache", {})
    count = len(patchkit.applied()) + len(patchkit.pending())
    if cache.get("count") != count:
        cache["count"] = count
        cache["pairs"] = [
            (sys.modules[s.module], s) for s in patchkit.ledger()
            if s.restore is None and s.replacement is not patchkit.MISSING
            and s.module in sys.modules]
    pairs: list[tuple[Any, Any]] = cache["pairs"]
    return pairs
