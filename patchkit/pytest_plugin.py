"""pytest plugin: ``pytest --patchkit`` patches before tests run and fails tests that block.

Opt-in: nothing happens unless ``--patchkit`` is given or ``patchkit = true`` is set in
the ini/pyproject configuration. Then the process is patched before conftest files and
test modules are imported, the auditor's detectors run for the whole session, and each
test's own observations (setup, call, and fixture teardown) become findings that fail
it -- recorded, never raised, so code under test cannot swallow them.
"""

from __future__ import annotations

import os
import sys
import warnings
from dataclasses import dataclass, field
from typing import Any, Generator

import pytest

__all__ = ["PatchkitPlugin"]

_KEY = pytest.StashKey["PatchkitPlugin"]()
_WINDOW = pytest.StashKey[Any]()
_MARKER = "allow_blocking"
_MARKER_KWARGS = {"max_duration"}


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("patchkit", "fail tests that block the gevent hub")
    group.addoption("--patchkit", action="store_true", default=None,
                    help="patch with patchkit.patch_all() before tests are imported and "
                         "fail tests that do unpatched, hub-blocking I/O")
    group.addoption("--patchkit-threshold", default=None, metavar="SECONDS",
                    help="shortest hub block that fails a test (default 0.02)")
    parser.addini("patchkit", type="bool", default=False,
                  help="enable patchkit's blocking checks (like --patchkit)")
    parser.addini("patchkit_threshold", default="", help="like --patchkit-threshold")
    parser.addini("patchkit_allow", type="linelist", default=[],
                  help="packages (distribution names, 'app' for your code) or path[:line] "
                       "call sites allowed to block")


@dataclass
class PatchkitPlugin:
    """The session's state: the auditor, start-up problems, what was undone by others."""

    threshold: float
    allow: tuple[str, ...]
    auditor: Any = None
    startup_problems: list[str] = field(default_factory=list)
    reverted: set[tuple[str, str]] = field(default_factory=set)
    swaps: Any = None  # pytest_report.SwapWatch, made by the first check


def _threshold(early_config: pytest.Config) -> float:
    from .audit.config import DEFAULT_THRESHOLD

    raw = early_config.known_args_namespace.patchkit_threshold
    source = "--patchkit-threshold"
    if raw is None:
        raw, source = early_config.getini("patchkit_threshold") or "", "patchkit_threshold"
    if raw == "":
        return DEFAULT_THRESHOLD
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not value > 0 or value != value:
        raise pytest.UsageError(f"{source}: {raw!r} is not a positive number of seconds "
                                "(e.g. 0.02)")
    return value


_CONTROLLER_ENV = "PATCHKIT_XDIST_CONTROLLER"


def _is_xdist_controller(early_config: pytest.Config) -> bool:
    """Whether this process only distributes tests to xdist workers (and must not patch:
    its execnet threads would break). A worker's parent is the controller, which left its
    pid in the environment; PYTEST_XDIST_WORKER alone is also inherited by a pytest that
    a test in a worker starts."""
    if ("PYTEST_XDIST_WORKER" in os.environ
            and os.environ.get(_CONTROLLER_ENV) == str(os.getppid())):
        return False
    if getattr(early_config.known_args_namespace, "numprocesses", None):
        os.environ[_CONTROLLER_ENV] = str(os.getpid())
        return True
    return False


@pytest.hookimpl(tryfirst=True)
def pytest_load_initial_conftests(early_config: pytest.Config, parser: pytest.Parser,
                                  args: list[str]) -> None:
    if not (early_config.known_args_namespace.patchkit or early_config.getini("patchkit")):
        return
    plugin = PatchkitPlugin(_threshold(early_config),
                            tuple(early_config.getini("patchkit_allow")))
    early_config.stash[_KEY] = plugin
    if _is_xdist_controller(early_config):
        return  # the controller runs no tests; its workers patch themselves
    import patchkit

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        patchkit.patch_all()
    plugin.startup_problems = [str(w.message) for w in caught]
    plugin.auditor = _start_auditor(plugin.threshold)
    early_config.pluginmanager.register(_PerTest(plugin), "patchkit-per-test")


def _start_auditor(threshold: float) -> Any:
    from ._run import Target
    from .audit.config import AuditConfig
    from .audit.runner import Auditor

    auditor = Auditor(AuditConfig(Target("module", "pytest"), threshold=threshold, quiet=True))
    auditor.start()
    auditor.sampler.paused = True  # collection is pytest's work; each test's window resumes it
    return auditor


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", f"{_MARKER}(*packages, max_duration=None): let this test block the "
        "gevent hub (only in the given packages / for at most max_duration seconds)")


def _plugin(config: pytest.Config) -> PatchkitPlugin | None:
    plugin = config.stash.get(_KEY, None)
    return plugin if plugin is not None and plugin.auditor is not None else None


def pytest_report_header(config: pytest.Config) -> list[str] | None:
    plugin = config.stash.get(_KEY, None)
    if plugin is None:
        return None
    if plugin.auditor is None:
        return ["patchkit: tests run patched in the xdist workers"]
    import patchkit

    lines = [f"patchkit: patched {', '.join(patchkit.applied())}; a hub block over "
             f"{plugin.threshold * 1000:g} ms fails the test"]
    lines += [f"patchkit: start-up problem: {problem}" for problem in plugin.startup_problems]
    return lines


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        for mark in item.iter_markers(_MARKER):
            unknown = set(mark.kwargs) - _MARKER_KWARGS
            bad_args = [a for a in mark.args if not isinstance(a, str)]
            if unknown or bad_args:
                what = ", ".join(sorted(unknown)) or repr(bad_args[0])
                raise pytest.UsageError(
                    f"{item.nodeid}: @pytest.mark.{_MARKER} got an unknown argument {what}; "
                    "it takes package names and max_duration=SECONDS")


class _PerTest:
    """The per-test hooks, registered only when this process audits (``--patchkit``
    given and not an xdist controller): a run without ``--patchkit`` pays for none."""

    def __init__(self, plugin: PatchkitPlugin) -> None:
        from . import _pytest_window, pytest_report

        self.plugin = plugin
        self.auditor = plugin.auditor
        self.open_window = _pytest_window.open_window
        self.report = pytest_report

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_protocol(self, item: pytest.Item, nextitem: pytest.Item | None) -> Any:
        item.stash[_WINDOW] = self.open_window(self.auditor)
        try:
            return (yield)
        finally:
            self.auditor.sampler.paused = True  # until the next test's window opens

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(self, item: pytest.Item, call: pytest.CallInfo[None]
                                  ) -> Generator[None, pytest.TestReport, pytest.TestReport]:
        report: pytest.TestReport = yield
        when = report.when
        if when == "setup" and report.passed:
            return report  # the window goes on through the call
        window = item.stash.get(_WINDOW, None)
        if window is None:
            return report
        plugin, text = self.plugin, self.report
        problems = [text.describe(f) for f in window.findings(item=item)
                    if not text.allowed(f, item, plugin.allow)]
        if when == "teardown":
            problems += text.reverted_patches(plugin)
            del item.stash[_WINDOW]  # items live on; their windows need not
        else:
            item.stash[_WINDOW] = self.open_window(self.auditor, cut=False)
        if problems:
            _fail(report, "patchkit: this test blocked the gevent hub or undid patching\n\n"
                  + "\n\n".join(problems))
        return report

    @pytest.hookimpl(tryfirst=True)
    def pytest_unconfigure(self, config: pytest.Config) -> None:
        self.auditor.stop(final_scan=False)  # before pytest's own gc.collect() calls
        sys.stdout.flush()


def _fail(report: pytest.TestReport, text: str) -> None:
    if report.failed and report.longrepr is not None:
        text = f"{report.longrepr}\n\n{text}"
    report.outcome = "failed"
    report.longrepr = text


@pytest.fixture
def patchkit_findings(request: pytest.FixtureRequest) -> Any:
    """Findings recorded so far in this test; those it fetched no longer fail it.

    ``patchkit_findings()`` returns a list of :class:`patchkit.audit.findings.Finding`.
    """
    plugin = _plugin(request.config)
    if plugin is None:
        pytest.skip("patchkit_findings needs pytest --patchkit")

    def fetch() -> list[Any]:
        window = request.node.stash.get(_WINDOW, None)
        if window is None:
            return []
        found: list[Any] = window.findings(item=request.node)
        window.consumed = [*(window.consumed or ()), *found]
        return found

    return fetch
