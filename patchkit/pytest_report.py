"""Text of the pytest plugin's failures, allow rules, and the check for undone patching."""

from __future__ import annotations

import operator
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
    if plugin.swaps is None:
        plugin.swaps = SwapWatch()
    if plugin.swaps.intact():
        return []  # the common case (this runs after every test)
    problems = []
    for module, swap in plugin.swaps.in_force():
        current = getattr(module, swap.attribute, swap.replacement)
        if current is swap.replacement or current is not swap.original:
            continue
        if swap.key not in plugin.reverted:
            plugin.reverted.add(swap.key)
            problems.append(
                f"{swap.module}.{swap.attribute} was restored to the unpatched original "
                "during this test by something other than patchkit (pytest-socket does "
                "this after every test; run with -p no:socket). patchkit put the patch "
                "back; tests before this point may have run unpatched.")
        setattr(module, swap.attribute, swap.replacement)
    return problems


class SwapWatch:
    """The attribute swaps in force, checked in one C-level comparison.

    Per module, ``operator.attrgetter`` reads every swapped attribute at once (plus
    ``__name__``, so the result is a tuple even for one attribute) and the list of those
    tuples is compared with the replacements'. A patch listener itself: whatever patches
    or unpatches makes it rebuild on the next check.
    """

    def __init__(self) -> None:
        import patchkit

        self._modules: list[tuple[Any, Any, list[Any]]] | None = None
        self._expected: list[tuple[Any, ...]] = []
        patchkit.add_listener(self)

    def did_patch(self, swaps: Any) -> None:
        self._modules = None

    did_unpatch = did_patch

    def intact(self) -> bool:
        """Whether every swapped attribute still holds its replacement."""
        modules = self._build()
        try:
            return [read(module) for module, read, _ in modules] == self._expected
        except AttributeError:
            return False

    def in_force(self) -> list[tuple[Any, Any]]:
        """``(module, swap)`` for every attribute swap in force."""
        return [(module, swap) for module, _, swaps in self._build() for swap in swaps]

    def _build(self) -> list[tuple[Any, Any, list[Any]]]:
        if self._modules is None:
            import patchkit

            per_module: dict[str, list[Any]] = {}
            for s in patchkit.ledger():
                if (s.restore is None and s.replacement is not patchkit.MISSING
                        and s.module in sys.modules):
                    per_module.setdefault(s.module, []).append(s)
            self._modules = [
                (sys.modules[name],
                 operator.attrgetter(*[s.attribute for s in swaps], "__name__"), swaps)
                for name, swaps in per_module.items()]
            self._expected = [(*[s.replacement for s in swaps], sys.modules[name].__name__)
                              for name, swaps in per_module.items()]
        return self._modules
