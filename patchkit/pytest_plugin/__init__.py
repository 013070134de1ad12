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
    group.addoption("--patchkit-cpu", action="store_true", default=None,
                    help="fail tests whose hub was held by computation too (Python or C), "
                         "or by a block whose cause no CPU-time reading showed (by default "
                         "both are reported, not failed)")
    group.addoption("--patchkit-report", action="append", default=None, metavar="PATH",
                    help="write the whole session's findings as the audit's report: "
                         "PATH ending in .json, .html or .sarif (repeatable)")
    group.addoption("--patchkit-no", action="append", default=None, metavar="PATCHER",
                    help="do not apply this patcher (repeatable; like python -m patchkit "
                         "--no-NAME): e.g. zmq for a suite that tests pyzmq's own sockets")
    group.addoption("--patchkit-hang", default=None, metavar="SECONDS",
                    help="report a hub block still going after SECONDS, with its stack, "
                         "and what keeps a finished session from exiting after as long "
                         "(default 30; 0 turns both off)")
    parser.addini("patchkit", type="bool", default=False,
                  help="enable patchkit's blocking checks (like --patchkit)")
    parser.addini("patchkit_threshold", default="", help="like --patchkit-threshold")
    parser.addini("patchkit_cpu", type="bool", default=False, help="like --patchkit-cpu")
    parser.addini("patchkit_report", type="linelist", default=[],
                  help="like --patchkit-report (one path a line)")
    parser.addini("patchkit_hang", default="", help="like --patchkit-hang")
    parser.addini("patchkit_no", type="linelist", default=[],
                  help="like --patchkit-no (one patcher a line)")
    parser.addini("patchkit_allow", type="linelist", default=[],
                  help="packages (distribution names, 'app' for your code) or path[:line] "
                       "call sites allowed to block")


DEFAULT_HANG = 30.0


@dataclass
class PatchkitPlugin:
    """The session's settings (parsed once) and state: the auditor, start-up problems,
    what was undone by others, the session's findings."""

    threshold: float
    allow: tuple[str, ...]
    fail_cpu: bool = False
    reports: tuple[str, ...] = ()
    hang: float = DEFAULT_HANG
    skip: tuple[str, ...] = ()  # patchers not applied
    auditor: Any = None
    startup_problems: list[str] = field(default_factory=list)
    reverted: set[tuple[str, str]] = field(default_factory=set)
    swaps: Any = None  # failures.SwapWatch, made by the first check
    terminal_fd: int | None = None  # stderr as it was before pytest captured it
    current: str | None = None  # the node id of the test running now
    session: Any = None  # summary.SessionFindings


def _seconds(early_config: pytest.Config, name: str, default: float,
             zero_ok: bool = False) -> float:
    """A number of seconds from ``--patchkit-<name>`` or the ``patchkit_<name>`` ini key."""
    option, ini = f"--patchkit-{name}", f"patchkit_{name}"
    raw = getattr(early_config.known_args_namespace, ini)
    source = option
    if raw is None:
        raw, source = early_config.getini(ini) or "", ini
    if raw == "":
        return default
    from .._cli import number_problem

    try:
        value = float(raw)
    except ValueError:
        raise pytest.UsageError(f"{source}: {raw!r} is not a number of seconds "
                                f"(e.g. {default:g})") from None
    problem = number_problem(value, 0.0001, 3600.0, zero_ok)
    if problem is not None:
        raise pytest.UsageError(f"{source}: {raw!r} {problem} (e.g. {default:g})")
    return value


def _settings(early_config: pytest.Config) -> PatchkitPlugin:
    """The plugin's settings from the command line and the ini file; usage errors."""
    from ..audit.config import DEFAULT_THRESHOLD

    args = early_config.known_args_namespace
    reports = tuple(args.patchkit_report or early_config.getini("patchkit_report"))
    from .summary import report_kind

    for path in reports:
        if report_kind(path) is None:
            raise pytest.UsageError(f"--patchkit-report: {path!r} ends in none of .json, "
                                    ".html, .sarif (the suffix says which report to write)")
        problem = _unwritable(path)  # now, not after the whole run
        if problem is not None:
            raise pytest.UsageError(f"--patchkit-report {path}: {problem}")
    fail_cpu = bool(args.patchkit_cpu) or bool(early_config.getini("patchkit_cpu"))
    return PatchkitPlugin(_seconds(early_config, "threshold", DEFAULT_THRESHOLD),
                          tuple(early_config.getini("patchkit_allow")), fail_cpu, reports,
                          _seconds(early_config, "hang", DEFAULT_HANG, zero_ok=True),
                          _skipped(early_config))


def _unwritable(path: str) -> str | None:
    """Why a report cannot be written at *path* (its missing folders are made at the end),
    or None."""
    import os

    if os.path.isdir(path):
        return "is a folder, not a file"
    folder = os.path.dirname(os.path.abspath(path))
    while not os.path.exists(folder):
        folder = os.path.dirname(folder)
    if not os.path.isdir(folder):
        return f"{folder} is a file, not a folder"
    if not os.access(folder, os.W_OK | os.X_OK):
        return f"cannot write in {folder}"
    return None


def _skipped(early_config: pytest.Config) -> tuple[str, ...]:
    """The patchers ``--patchkit-no`` (or ``patchkit_no``) turns off; usage errors."""
    import patchkit

    names = tuple(early_config.known_args_namespace.patchkit_no
                  or early_config.getini("patchkit_no"))
    for name in names:
        try:
            patchkit.registry().resolve(name)
        except patchkit.UnknownPatcherError as exc:
            raise pytest.UsageError(f"--patchkit-no: {exc}") from None
    return names


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
    if early_config.known_args_namespace.patchkit or early_config.getini("patchkit"):
        _set_up(early_config)
    return (yield)


def _set_up(early_config: pytest.Config) -> None:
    from .summary import SessionFindings

    plugin = _settings(early_config)
    plugin.session = SessionFindings()
    early_config.stash[_KEY] = plugin
    early_config.pluginmanager.register(_Session(plugin), "patchkit-session")
    if _is_xdist_controller(early_config):
        return  # the controller runs no tests; its workers patch themselves
    import patchkit

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        patchkit.patch_all(**{name: False for name in plugin.skip})
    plugin.startup_problems = [str(w.message) for w in caught]
    plugin.auditor = _start_auditor(plugin.threshold)
    if plugin.hang:
        plugin.terminal_fd = os.dup(2)
    early_config.pluginmanager.register(_PerTest(plugin), "patchkit-per-test")


def _start_auditor(threshold: float) -> Any:
    from .._run import Target
    from ..audit.config import AuditConfig
    from ..audit.runner import Auditor

    auditor = Auditor(AuditConfig(Target("module", "pytest"), threshold=threshold, quiet=True,
                                      exact=True))
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

    computation = ("fails it too" if plugin.fail_cpu
                   else "is reported, not failed (--patchkit-cpu fails it)")
    lines = [f"patchkit: patched {', '.join(patchkit.applied())}; a hub block over "
             f"{plugin.threshold * 1000:g} ms waiting fails the test, computation "
             f"{computation}"]
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
        from . import failures, window

        self.plugin = plugin
        self.auditor = plugin.auditor
        self.open_window = window.open_window
        self.report = failures
        if plugin.hang and plugin.terminal_fd is not None:
            from .hang import LiveWarning

            LiveWarning(plugin.terminal_fd, plugin.hang, self._describe_live,
                        lambda: plugin.current).install(self.auditor.sampler)

    def _describe_live(self, stack: Any, callee: Any, lasted: float) -> str:
        from .window import describe_block

        return self.report.describe(describe_block(self.auditor, stack, callee, lasted))

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_protocol(self, item: pytest.Item, nextitem: pytest.Item | None) -> Any:
        self.plugin.current = item.nodeid
        item.stash[_WINDOW] = self.open_window(self.auditor)
        try:
            return (yield)
        finally:
            self.auditor.sampler.paused = True  # until the next test's window opens
            self.plugin.current = None

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
        verdicts = window.split(cpu=plugin.fail_cpu, item=item)
        entries = [{"outcome": outcome, "finding": f.to_dict()}
                   for outcome, part in (("cpu", verdicts.computing),
                                         ("unknown", verdicts.unknown)) for f in part]
        problems = []
        test_file = _test_file(item)
        for finding in verdicts.failing:
            allowed = text.allowed(finding, item, plugin.allow)
            entries.append({"outcome": "allowed" if allowed else "failed",
                            "finding": finding.to_dict()})
            if not allowed:
                problems.append(text.describe(finding, test_file))
        if entries:
            report.patchkit = entries  # type: ignore[attr-defined]  # plain data: xdist sends it
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
        plugin = self.plugin
        if plugin.hang and plugin.terminal_fd is not None:
            import gevent

            from .hang import ExitWatchdog

            ExitWatchdog(plugin.terminal_fd, plugin.hang, gevent.get_hub(),
                         self.auditor.hub_ident).start()


class _Session:
    """Session-wide hooks, in every process that has ``--patchkit`` (the xdist controller
    too): the session's findings per call site, the summary and the report files."""

    def __init__(self, plugin: PatchkitPlugin) -> None:
        self.plugin = plugin

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        entries = getattr(report, "patchkit", None)
        if entries:
            self.plugin.session.add(report.nodeid, entries)

    def pytest_terminal_summary(self, terminalreporter: Any, exitstatus: int,
                                config: pytest.Config) -> None:
        if hasattr(config, "workerinput"):
            return  # an xdist worker: its controller summarises
        session = self.plugin.session
        if session.sites:
            counts = session.counts()
            title = (f"patchkit: {counts.get('failed', 0)} call sites failed tests, "
                     f"{counts.get('cpu', 0)} computed on the hub"
                     + (f", {counts['unknown']} unknown" if counts.get("unknown") else ""))
            terminalreporter.write_sep("=", title)
            for line in session.summary():
                terminalreporter.write_line(line)
        self._write_reports(terminalreporter, exitstatus, config)

    def _write_reports(self, terminalreporter: Any, exitstatus: int,
                       config: pytest.Config) -> None:
        plugin = self.plugin
        if not plugin.reports:
            return
        patched: list[str] = []
        if plugin.auditor is not None:
            import patchkit

            patched = list(patchkit.applied())
        for line in plugin.session.write(plugin.reports, int(exitstatus), patched,
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
