"""pytest plugin: ``pytest --patchkit`` patches before tests run and fails tests that block.

Opt-in: nothing happens unless ``--patchkit`` is given or ``patchkit = true`` is set in
the ini/pyproject configuration. Then the process is patched before conftest files and
test modules are imported, the auditor's detectors run for the whole session, and each
test's own observations (setup, call, and fixture teardown) become findings that fail
it -- recorded, never raised, so code under test cannot swallow them. A wait on the hub
fails; computation (Python or C, told apart by the thread's CPU time) is reported in the
session summary and fails only with ``--patchkit-cpu``, and so is a block that no
CPU-time reading of its own covered (a loaded machine kept the sampler off the CPU).
"""

from __future__ import annotations

import os
import sys
import warnings
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Generator

import pytest

from .options import OPTIONS, Options, add_options, enabled, parse

if TYPE_CHECKING:
    from ..audit.session import Session
    from .failures import SwapWatch
    from .summary import SessionFindings

__all__ = ["State", "pytest_addoption", "pytest_load_initial_conftests", "pytest_configure",
           "pytest_report_header", "pytest_collection_modifyitems", "patchkit_findings"]

_KEY = pytest.StashKey["State"]()
_WINDOW = pytest.StashKey[Any]()
_MARKER = "allow_blocking"
_MARKER_KWARGS = {"max_duration"}


def pytest_addoption(parser: pytest.Parser) -> None:
    add_options(parser)


@dataclass
class State:
    """The session's runtime state in a process with ``--patchkit``: the detection session
    (None in an xdist controller), start-up problems, what others undid, the findings."""

    options: Options  # the same object as config.stash[OPTIONS]
    findings: SessionFindings
    auditor: Session | None = None  # (the name tests/plugin reach it by)
    startup_problems: list[str] = field(default_factory=list)
    reverted: set[tuple[str, str]] = field(default_factory=set)
    swaps: SwapWatch | None = None  # made by the first check
    terminal_fd: int | None = None  # stderr as it was before pytest captured it
    current: str | None = None  # the node id of the test running now


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


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_load_initial_conftests(early_config: pytest.Config, parser: pytest.Parser,
                                  args: list[str]) -> Generator[None, None, None]:
    # A wrapper, first: this runs before pytest captures output (the terminal's stderr is
    # kept for the hang reports) and before any conftest is imported.
    if enabled(early_config):
        _set_up(early_config)
    return (yield)


def _set_up(early_config: pytest.Config) -> None:
    from .summary import SessionFindings

    options = parse(early_config)
    state = State(options, SessionFindings())
    early_config.stash[OPTIONS] = options
    early_config.stash[_KEY] = state
    early_config.pluginmanager.register(_Session(state), "patchkit-session")
    if _is_xdist_controller(early_config):
        return  # the controller runs no tests; its workers patch themselves
    import patchkit

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        patchkit.patch_all(**{name: False for name in options.skip})
    state.startup_problems = [str(w.message) for w in caught]
    state.auditor = _start_session(options.threshold)
    if options.hang:
        state.terminal_fd = os.dup(2)
    early_config.pluginmanager.register(_PerTest(state, state.auditor), "patchkit-per-test")


def _start_session(threshold: float) -> Session:
    from ..audit.session import DetectionSettings, Session

    session = Session(DetectionSettings(threshold, exact=True))
    session.start()
    session.pause()  # collection is pytest's work; each test's window resumes it
    return session


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", f"{_MARKER}(*packages, max_duration=None): let this test block the "
        "gevent hub (only in the given packages / for at most max_duration seconds)")


def _state(config: pytest.Config) -> State | None:
    """The state of a process that audits (not an xdist controller), or None."""
    state = config.stash.get(_KEY, None)
    return state if state is not None and state.auditor is not None else None


def pytest_report_header(config: pytest.Config) -> list[str] | None:
    state = config.stash.get(_KEY, None)
    if state is None:
        return None
    if state.auditor is None:
        return ["patchkit: tests run patched in the xdist workers"]
    import patchkit

    options = state.options
    computation = ("fails it too" if options.fail_cpu
                   else "is reported, not failed (--patchkit-cpu fails it)")
    lines = [f"patchkit: patched {', '.join(patchkit.applied())}; a hub block over "
             f"{options.threshold * 1000:g} ms waiting fails the test, computation "
             f"{computation}"]
    lines += [f"patchkit: start-up problem: {problem}" for problem in state.startup_problems]
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

    def __init__(self, state: State, session: Session) -> None:
        from . import failures, window

        self.state = state
        self.options = state.options
        self.session = session
        self.open_window = window.open_window
        self.failures = failures
        if self.options.hang and state.terminal_fd is not None:
            from .hang import LiveWarning

            warning = LiveWarning(state.terminal_fd, self.options.hang, self._describe_live,
                                  lambda: state.current)
            session.on_overdue(self.options.hang, warning)

    def _describe_live(self, stack: Any, callee: Any, lasted: float) -> str:
        from .window import describe_block

        return self.failures.describe(describe_block(self.session, stack, callee, lasted))

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_protocol(self, item: pytest.Item, nextitem: pytest.Item | None) -> Any:
        self.state.current = item.nodeid
        item.stash[_WINDOW] = self.open_window(self.session)
        try:
            return (yield)
        finally:
            self.session.pause()  # until the next test's window opens
            self.state.current = None

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
        options, text = self.options, self.failures
        verdicts = window.split(cpu=options.fail_cpu, item=item)
        entries = [{"outcome": outcome, "finding": f.to_dict()}
                   for outcome, part in (("cpu", verdicts.computing),
                                         ("unknown", verdicts.unknown)) for f in part]
        problems = []
        test_file = _test_file(item)
        for finding in verdicts.failing:
            allowed = text.allowed(finding, item, options.allow)
            entries.append({"outcome": "allowed" if allowed else "failed",
                            "finding": finding.to_dict()})
            if not allowed:
                problems.append(text.describe(finding, test_file))
        if entries:
            report.patchkit = entries  # type: ignore[attr-defined]  # plain data: xdist sends it
        if when == "teardown":
            if self.state.swaps is None:
                self.state.swaps = text.SwapWatch()
            problems += text.reverted_patches(self.state.swaps, self.state.reverted)
            del item.stash[_WINDOW]  # items live on; their windows need not
        else:
            item.stash[_WINDOW] = self.open_window(self.session, cut=False)
        if problems:
            _fail(report, "patchkit: this test blocked the gevent hub or undid patching\n\n"
                  + "\n\n".join(problems))
        return report

    @pytest.hookimpl(tryfirst=True)
    def pytest_unconfigure(self, config: pytest.Config) -> None:
        self.session.stop(final_scan=False)  # before pytest's own gc.collect() calls
        sys.stdout.flush()
        state = self.state
        if self.options.hang and state.terminal_fd is not None:
            import gevent

            from .hang import ExitWatchdog

            ExitWatchdog(state.terminal_fd, self.options.hang, gevent.get_hub(),
                         self.session.hub_ident).start()


class _Session:
    """Session-wide hooks, in every process that has ``--patchkit`` (the xdist controller
    too): the session's findings per call site, the summary and the report files."""

    def __init__(self, state: State) -> None:
        self.state = state

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        entries = getattr(report, "patchkit", None)
        if entries:
            self.state.findings.add(report.nodeid, entries)

    def pytest_terminal_summary(self, terminalreporter: Any, exitstatus: int,
                                config: pytest.Config) -> None:
        if hasattr(config, "workerinput"):
            return  # an xdist worker: its controller summarises
        findings = self.state.findings
        if findings.sites:
            counts = findings.counts()
            title = (f"patchkit: {counts.get('failed', 0)} call sites failed tests, "
                     f"{counts.get('cpu', 0)} computed on the hub"
                     + (f", {counts['unknown']} unknown" if counts.get("unknown") else ""))
            terminalreporter.write_sep("=", title)
            for line in findings.summary():
                terminalreporter.write_line(line)
        self._write_reports(terminalreporter, exitstatus, config)

    def _write_reports(self, terminalreporter: Any, exitstatus: int,
                       config: pytest.Config) -> None:
        state = self.state
        if not state.options.reports:
            return
        patched: list[str] = []
        if state.auditor is not None:
            import patchkit

            patched = list(patchkit.applied())
        for line in state.findings.write(state.options.reports, int(exitstatus), patched,
                                         str(config.rootpath)):
            terminalreporter.write_line(f"patchkit: {line}")


def _test_file(item: pytest.Item) -> str | None:
    from .window import test_site

    return test_site(item).file


def _fail(report: pytest.TestReport, text: str) -> None:
    if report.failed and report.longrepr is not None:
        text = f"{report.longrepr}\n\n{text}"
    report.outcome = "failed"
    report.longrepr = text


@pytest.fixture
def patchkit_findings(request: pytest.FixtureRequest) -> Any:
    """Findings recorded so far in this test; those it fetched no longer fail it.

    ``patchkit_findings()`` returns a list of :class:`patchkit.model.Finding`.
    """
    if _state(request.config) is None:
        pytest.skip("patchkit_findings needs pytest --patchkit")

    def fetch() -> list[Any]:
        window = request.node.stash.get(_WINDOW, None)
        if window is None:
            return []
        found: list[Any] = window.findings(item=request.node)
        window.consumed = [*(window.consumed or ()), *found]
        return found

    return fetch
