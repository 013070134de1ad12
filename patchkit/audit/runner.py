"""Run a target exactly as ``python`` would, under observation, and always report.

The detectors start before the target, on its (the hub's) thread; the target runs
through :func:`patchkit._run.run_target`. However the run ends -- return,
``sys.exit``, an uncaught error, SIGINT, SIGTERM, ``--duration`` -- the detectors
are stopped, findings are built and the report is written before the process
ends the way the target would have ended it.
"""

from __future__ import annotations

import importlib.util
import os
import signal
import sys
import threading
import time
import traceback
from typing import TYPE_CHECKING, Any, Callable

from patchkit._run import Target, die_like_python, run_target

from .config import STRICT_EXIT_CODE, AuditConfig
from .detectors import Observation
from .detectors.events import AuditEvents
from .detectors.gcpauses import GcPauses
from .detectors.imports import Attribution, KnownImports
from .detectors.misbehavior import Misbehavior
from .detectors.sampler import Sampler, original_thread_api
from .detectors.stale import StaleScan
from .detectors.switches import SwitchClock
from .guard import auditor_work
from .patching import PatchWatch

if TYPE_CHECKING:
    from .findings import Finding
    from .report import Report

# findings, advice and report (with rich) are imported only once the target ended:
# the audited process starts faster and its heap, which every full GC walks, stays small.

__all__ = ["Auditor", "Stopper", "run"]


_AUDIT_DIR = os.path.dirname(os.path.abspath(__file__)) + os.sep
_RESEND_DELAY = 0.002  # seconds before a signal that hit the auditor's own code lands again


class _Stop(SystemExit):
    """Raised in the target by SIGTERM or --duration; a SystemExit so gevent passes it
    from the hub to the main greenlet and the target's ``finally`` blocks run."""


class Stopper:
    """SIGTERM and ``--duration`` handling: stop the target with :class:`_Stop`.

    Args:
        duration: Seconds before the target is stopped, or None.
        hub_ident: OS thread id of the thread running the target.
    """

    def __init__(self, duration: float | None, hub_ident: int) -> None:
        self.duration = duration
        self.hub_ident = hub_ident
        self.reason: str | None = None
        self.ident: int | None = None
        self._previous: Any = None
        self._previous_int: Any = None
        self._lock: Any = None

    def arm(self) -> None:
        """Install the SIGTERM (and default SIGINT) handlers and start the --duration timer.

        Main thread only.
        """
        self._previous = signal.signal(signal.SIGTERM, self._on_sigterm)
        if signal.getsignal(signal.SIGINT) is signal.default_int_handler:
            self._previous_int = signal.signal(signal.SIGINT, self._on_sigint)
        if self.duration is not None:
            start_thread, allocate_lock, _ = original_thread_api()
            self._lock = allocate_lock()
            self._lock.acquire()
            start_thread(self._timer, ())

    def disarm(self) -> None:
        """Stop the timer and restore the previous SIGTERM handler; idempotent."""
        if self._lock is not None:
            self._lock.release()
            self._lock = None
        if self._previous is not None:
            signal.signal(signal.SIGTERM, self._previous)
            self._previous = None
        if self._previous_int is not None:
            if signal.getsignal(signal.SIGINT) == self._on_sigint:
                signal.signal(signal.SIGINT, self._previous_int)
            self._previous_int = None

    def _deferred(self, signum: int, frame: Any) -> bool:
        # An exception raised inside the greenlet tracer, the audit hook or a gc callback
        # would break the target's switch or call (or be ignored); let the signal land
        # again shortly, from a native thread: re-sent from here, it would be handled at
        # once, inside this handler, deferred again, and so on until a RecursionError.
        if frame is not None and frame.f_code.co_filename.startswith(_AUDIT_DIR):
            start_thread, _, _ = original_thread_api()
            start_thread(self._resend, (signum,))
            return True
        return False

    def _resend(self, signum: int) -> None:
        from gevent.monkey import get_original

        get_original("time", "sleep")(_RESEND_DELAY)
        signal.pthread_kill(self.hub_ident, signum)

    def _on_sigint(self, signum: int, frame: Any) -> None:
        if not self._deferred(signum, frame):
            raise KeyboardInterrupt

    def _on_sigterm(self, signum: int, frame: Any) -> None:
        if self._deferred(signum, frame):
            return
        if self.reason is None:
            self.reason = "SIGTERM"
        raise _Stop(0 if self.reason == "--duration" else 128 + signal.SIGTERM)

    def _timer(self) -> None:
        _, _, get_ident = original_thread_api()
        self.ident = get_ident()
        lock = self._lock
        if lock is None or lock.acquire(True, self.duration):
            return
        self.reason = "--duration"
        # A real signal (not interrupt_main) also interrupts a blocking call in C.
        ours = signal.getsignal(signal.SIGTERM) == self._on_sigterm
        signal.pthread_kill(self.hub_ident, signal.SIGTERM if ours else signal.SIGINT)


class Auditor:
    """All detectors for one run, started and stopped together on the hub's thread."""

    def __init__(self, config: AuditConfig) -> None:
        _, _, get_ident = original_thread_api()
        self.config = config
        self.hub_ident = get_ident()
        self.extra_idents: Callable[[], set[int]] = set
        threshold = config.threshold
        self.watch = PatchWatch(self._on_patch)
        self.clock = SwitchClock(threshold)
        self.sampler = Sampler(self.hub_ident, self.clock.stretch_start,
                               period=min(max(threshold / 2, 0.002), 0.05), min_age=threshold / 2,
                               originals=lambda: self.watch.original_ids,
                               blocks=self.clock.blocks, hub_native_id=threading.get_native_id())
        self.events = AuditEvents(self.hub_ident, get_ident, lambda: self.watch.patched,
                                  self.clock.stretch_start)
        self.stale = StaleScan(self.watch.label, lambda: self.watch.original_ids)
        self.misbehavior = Misbehavior(self._own_idents)
        self.gc = GcPauses()
        self.known = KnownImports()
        self.started = time.perf_counter()

    def _own_idents(self) -> set[int]:
        own = {self.hub_ident, self.sampler.ident, *self.extra_idents()}
        return {ident for ident in own if ident is not None}

    def start(self) -> None:
        """Start every detector; call on the thread that will run the target."""
        self.started = time.perf_counter()
        self.watch.start()
        self.clock.start()
        self.sampler.start()
        self.events.start()
        self.misbehavior.start()
        self.gc.start()
        self.known.start()

    def _on_patch(self) -> None:
        with auditor_work():
            self.stale.scan()
            self.misbehavior.on_patch()

    def stop(self, final_scan: bool = True) -> None:
        """Stop every detector (idempotent) and take the exit-time stale scan.

        Args:
            final_scan: Scan for stale references once more (the pytest plugin, which
                reports no stale references, skips it).
        """
        with auditor_work():
            self.clock.stop()
            self.sampler.stop()
            self.events.stop()
            self.misbehavior.stop()
            self.gc.stop()
            self.known.stop()
            if final_scan:
                self.watch.refresh()
                self.stale.scan()
            self.watch.stop()

    def findings(self, target_file: str | None) -> list[Finding]:
        """Everything observed, as aggregated findings filtered by --include/--exclude."""
        from . import advice
        from .findings import aggregate

        with auditor_work():
            attribution = Attribution()
            observations = self._observations(attribution, target_file)
            context = advice.Context(
                stale={(r.module, r.name): r.original for r in self.stale.found.values()},
                patchers=_patcher_names(), imported=self.known.names())
            findings = aggregate(observations, attribution, context, origin=self.started)
            return [f for f in findings if _wanted(f, self.config)]

    def blocks_without_gc(self, since: int = 0) -> list[Any]:
        """The timed blocks from *since* on, less those that were mostly garbage collection."""
        threshold = self.config.threshold
        return [b for b in self.clock.blocks[since:]
                if b.end - b.start - self.gc.within(b.start, b.end) > threshold]

    def _observations(self, attribution: Attribution, target_file: str | None) -> list[Observation]:
        from . import collect
        from .findings import blocks_to_observations, callback_observations, merge_events

        timed = blocks_to_observations(self.blocks_without_gc(), self.sampler.samples,
                                       self.config.threshold, attribution,
                                       self.watch.original_ids, self.sampler.delays,
                                       self.sampler.waits)
        timed += callback_observations(self.sampler.hub_callbacks, self.config.threshold)
        observations = merge_events(timed, self.events.observations, attribution)
        refs = list(self.stale.found.values())
        observations += collect.stale_observations(refs)
        observations += collect.late_patch_observations(self.events.imports, refs, attribution)
        observations += self.misbehavior.observations
        if not self.watch.patched:
            observations.append(collect.unpatched_observation(target_file))
        return observations


def _patcher_names() -> frozenset[str]:
    try:
        import patchkit

        return frozenset(spec.name for spec in patchkit.registry().ordered())
    except Exception:
        return frozenset()


def _wanted(finding: Finding, config: AuditConfig) -> bool:
    package = (finding.package or "app").lower().replace("_", "-")
    include = {p.lower().replace("_", "-") for p in config.include}
    exclude = {p.lower().replace("_", "-") for p in config.exclude}
    return (not include or package in include) and package not in exclude


def _target_file(target: Target) -> str | None:
    if target.kind == "path":
        return os.path.abspath(target.value)
    try:
        spec = importlib.util.find_spec(target.value)
    except (ImportError, ValueError):
        return None
    return spec.origin if spec is not None and spec.has_location else None


def _run_observed(config: AuditConfig, stopper: Stopper) -> tuple[int, KeyboardInterrupt | None]:
    try:
        if config.patch:
            import patchkit

            patchkit.patch_all()
        return run_target(config.target), None
    except KeyboardInterrupt as exc:
        if stopper.reason == "--duration":
            return 0, None
        return 128 + signal.SIGINT, exc


def run(config: AuditConfig) -> int:
    """Audit one run of ``config.target``; returns the exit status to use.

    Ends the process itself (by the same signal) when the target was stopped by
    SIGINT or SIGTERM, after the report is written.
    """
    pid = os.getpid()
    auditor = Auditor(config)
    stopper = Stopper(config.duration, auditor.hub_ident)
    auditor.extra_idents = lambda: {stopper.ident} if stopper.ident else set()
    stopper.arm()
    auditor.start()
    try:
        code, interrupt = _run_observed(config, stopper)
    finally:
        if os.getpid() == pid:
            stopper.disarm()
            auditor.stop()
    if os.getpid() != pid:
        return code  # a forked child finishing the script: its parent reports
    from .report import Report

    try:
        findings = auditor.findings(_target_file(config.target))
    except Exception:  # a bug of ours must not cost the user the report and exit code
        traceback.print_exc()
        print("python -m patchkit.audit: internal error while building findings; "
              "the report lists none", file=sys.stderr)
        findings = []
    report = Report(config.target.display, [config.target.value, *config.target.args], code,
                    time.perf_counter() - auditor.started, auditor.watch.patched_modules(),
                    findings, stopper.reason)
    _emit(report, config)
    if interrupt is not None:
        die_like_python(interrupt)
    if stopper.reason == "SIGTERM":
        sys.stdout.flush()
        sys.stderr.flush()
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        os.kill(os.getpid(), signal.SIGTERM)
    if config.strict and findings and code == 0:
        return STRICT_EXIT_CODE
    return code


def _emit(report: Report, config: AuditConfig) -> None:
    from .report import make_console, render_terminal, write_json

    with auditor_work():
        if config.json_path is not None:
            try:
                write_json(report, config.json_path)
            except OSError as exc:
                print(f"python -m patchkit.audit: cannot write {config.json_path}: {exc}",
                      file=sys.stderr)
        if config.html_path is not None or config.sarif_path is not None:
            _emit_files(report, config)
        if not config.quiet:
            render_terminal(report, make_console())


def _emit_files(report: Report, config: AuditConfig) -> None:
    from .saved import emit_files

    for line in emit_files(report, config.html_path, config.sarif_path, config.root):
        print(f"python -m patchkit.audit: {line}", file=sys.stderr)
