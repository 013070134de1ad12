"""Text of the pytest plugin's failures, allow rules, and the check for undone patching."""

from __future__ import annotations

import operator
import os
import sys
from typing import Any

import pytest

from ..ledger import assign
from ..model import Finding, StackFrame

__all__ = ["describe", "allowed", "reverted_patches", "package_label", "SwapWatch"]


def describe(finding: Finding, test_file: str | None = None) -> str:
    """A finding as the lines a failing test's report shows.

    Args:
        test_file: The test's file: its frames are kept in the stack shown, however
            deep the call below them goes.
    """
    where = f"{finding.file}:{finding.line}" if finding.file else "<unknown>"
    head = (f"{finding.kind} at {where} in {finding.function or '?'}"
            f"  [package: {package_label(finding.package, finding.file)}"
            + (f", callee: {finding.callee}" if finding.callee else "") + "]")
    timing = (f"  {finding.count}x, total {finding.total_s * 1000:.1f} ms, "
              f"max {finding.max_s * 1000:.1f} ms" if finding.total_s else
              f"  {finding.count}x")
    lines = [head, timing, f"  {finding.message}"]
    if finding.fix:
        lines.append(f"  fix: {finding.fix}")
    stack = [f"    {f.file}:{f.line} in {f.function}" for f in _shown_stack(finding, test_file)]
    if stack:
        lines.append("  stack (innermost last):")
        lines += stack
    return "\n".join(lines)


_INNERMOST = 8


def _shown_stack(finding: Finding, test_file: str | None) -> list[Any]:
    """The innermost frames, and the test file's outermost frame above them (with a
    marker for what lies between), so the test's own line is always in view."""
    stack = [f for f in finding.stack if not _is_pytest_machinery(f.file)]
    tail = stack[-_INNERMOST:]
    if test_file is None or len(stack) <= _INNERMOST:
        return tail
    norm = os.path.normcase(os.path.abspath(test_file))
    first = next((i for i, f in enumerate(stack)
                  if os.path.normcase(f.file) == norm), None)
    if first is None or first >= len(stack) - _INNERMOST:
        return tail
    skipped = len(stack) - _INNERMOST - first - 1
    gap = [StackFrame("...", skipped, "frames between")] if skipped else []
    return [stack[first], *gap, *tail]


def _package_dirs() -> dict[str, str]:
    import sysconfig

    dirs = {}
    for name in ("gevent", "greenlet"):
        module = sys.modules.get(name)
        if module is not None and getattr(module, "__file__", None):
            dirs[name] = os.path.dirname(os.path.abspath(module.__file__ or "")) + os.sep
    stdlib = sysconfig.get_paths().get("stdlib")
    if stdlib:
        dirs["stdlib"] = os.path.abspath(stdlib) + os.sep
    return dirs


def package_label(package: str | None, file: str | None) -> str:
    """*package*, else ``gevent``/``greenlet``/``stdlib`` for their files, else ``app``."""
    if package:
        return package
    for label, folder in _package_dirs().items():
        if file and os.path.abspath(file).startswith(folder) and "-packages" not in (
                file[len(folder):] if label == "stdlib" else ""):
            return label
    return "app"


_MACHINERY = (f"{os.sep}_pytest{os.sep}", f"{os.sep}pluggy{os.sep}",
              f"{os.sep}pytest{os.sep}__main__.py")


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


def reverted_patches(watch: SwapWatch, reverted: set[tuple[str, str]]) -> list[str]:
    """Patches another plugin undid during this test (pytest-socket restores socket.socket
    after every test); each is put back and reported once (*reverted* keeps which)."""
    if watch.intact():
        return []  # the common case (this runs after every test)
    problems = []
    for module, swap in watch.in_force():
        current = getattr(module, swap.attribute, swap.replacement)
        if current is swap.replacement or current is not swap.original:
            continue
        if swap.key not in reverted:
            reverted.add(swap.key)
            problems.append(
                f"{swap.module}.{swap.attribute} was restored to the unpatched original "
                "during this test by something other than patchkit (pytest-socket does "
                "this after every test; run with -p no:socket). patchkit put the patch "
                "back; tests before this point may have run unpatched.")
        assign(swap, swap.replacement)
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
