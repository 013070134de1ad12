"""Which regression-test modules the harness runs, with which resources, and the quick subset."""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["DEFAULT_MODULES", "DEFAULT_RESOURCES", "QUICK", "Subset"]

DEFAULT_MODULES: tuple[str, ...] = (
    "test_socket", "test_ssl", "test_select", "test_selectors", "test_threading",
    "test_queue", "test_time", "test_subprocess", "test_signal")

# regrtest resources: everything that stays on this machine. "network" and "urlfetch"
# reach the internet; "cpu", "largefile" and "decimal" only make runs long; gui/audio/curses
# need devices.
DEFAULT_RESOURCES: tuple[str, ...] = ("subprocess", "walltime", "tzdata")


@dataclass(frozen=True)
class Subset:
    """Modules mapped to test-id patterns (empty: every test), and the per-test timeout."""

    match: dict[str, tuple[str, ...]] = field(default_factory=dict)
    timeout: float = 10.0


QUICK = Subset(match={
    "test_select": (),
    "test_time": (),
    "test_selectors": (),
    "test_queue": (),
}, timeout=10.0)
