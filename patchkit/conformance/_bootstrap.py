"""Child process: patch one way, then run one CPython regression-test module test by test.

Run by path (``python _bootstrap.py ARGS``) so that nothing but the stdlib is imported
before the column's patching: ``unpatched``, ``gevent`` (``gevent.monkey.patch_all()``)
or ``patchkit`` (``patchkit.patch_all()``). Writes JSON lines to ``--events``:
``loaded``, ``start``, ``result``, ``hung`` and ``done``. Each line is one ``os.write`` on
an ``O_APPEND`` descriptor, so a line is whole even when the process dies right after.

A real OS thread (started through the original ``_thread``, captured before patching)
watches every test: past ``--timeout`` it writes a ``hung`` event with the stacks of all
greenlets and threads and ends the process with status 86; the parent then restarts
the module without the tests already done. ``faulthandler`` backs it up for a hang
that holds the GIL, dumping C-level stacks to ``--fallback``.
"""

import _thread
import sys
import time
from typing import Any, Callable

# Captured before any patching: the watchdog must be a real thread with a real sleep.
_start_new_thread = _thread.start_new_thread
_allocate_lock = _thread.allocate_lock
_get_ident = _thread.get_ident
_real_sleep = time.sleep
_monotonic = time.monotonic

HANG_EXIT = 86
_MAX_STACKS = 30_000
_HUB_GRACE = 2.0


def _patch(column: str) -> None:
    if column == "gevent":
        from gevent import monkey
        monkey.patch_all()
    elif column == "patchkit":
        import patchkit
        patchkit.patch_all()
    elif column != "unpatched":
        raise SystemExit(f"unknown column {column!r}")


def _parse(argv: list[str]) -> dict[str, Any]:
    import argparse
    parser = argparse.ArgumentParser(prog="_bootstrap")
    parser.add_argument("--module", required=True)
    parser.add_argument("--column", required=True)
    parser.add_argument("--events", required=True)
    parser.add_argument("--fallback", required=True)
    parser.add_argument("--timeout", type=float, required=True)
    parser.add_argument("--use", default="")
    parser.add_argument("--skip-file", default="")
    parser.add_argument("--match", action="append", default=[])
    return vars(parser.parse_args(argv))


class Events:
    """Appends JSON lines to the events file, one ``os.write`` each."""

    def __init__(self, path: str) -> None:
        import os
        self._os = os
        self._fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)

    def emit(self, **event: object) -> None:
        import json
        self._os.write(self._fd, (json.dumps(event) + "\n").encode())


def _stacks() -> str:
    """Every greenlet's and thread's stack, via gevent when it is loaded."""
    text = ""
    if "gevent" in sys.modules:
        try:
            from gevent.util import format_run_info
            text = "\n".join(format_run_info())
        except Exception as exc:  # the report must still be written
            text = f"(gevent.util.format_run_info failed: {exc!r})\n"
    if not text:
        import traceback
        for ident, frame in sys._current_frames().items():
            text += f"Thread {ident}:\n" + "".join(traceback.format_stack(frame)) + "\n"
    return text[:_MAX_STACKS]


class Watchdog:
    """Ends the process when the current test (or fixture) outlives the timeout.

    Under gevent the report is first asked of the hub's own thread (a threadsafe
    callback): only there can greenlet frames be read. If the hub does not run it
    within ``_HUB_GRACE`` seconds (the thread is blocked in C), this thread reports.
    """

    def __init__(self, events: Events, timeout: float, fallback: str) -> None:
        import faulthandler
        self._events, self._timeout = events, timeout
        self._faulthandler = faulthandler
        self._fallback = open(fallback, "w")
        self._deadline: float | None = None
        self._label = ""
        self._main = _get_ident()
        self._once = _allocate_lock()
        _start_new_thread(self._watch, ())

    def arm(self, label: str) -> None:
        self._label = label
        self._deadline = _monotonic() + self._timeout
        # If the hang holds the GIL our thread cannot run; faulthandler's C thread can.
        self._faulthandler.dump_traceback_later(self._timeout + 15, exit=True,
                                                file=self._fallback)

    def disarm(self) -> None:
        self._deadline = None
        self._faulthandler.cancel_dump_traceback_later()

    def _report(self, where: str) -> None:
        import os
        if not self._once.acquire(False):
            return
        self._events.emit(ev="hung", id=self._label, after=self._timeout,
                          stacks=f"(stacks taken in the {where})\n" + _stacks())
        os._exit(HANG_EXIT)

    def _main_hub(self) -> Any:
        if "gevent.hub" not in sys.modules:
            return None
        import gc
        from gevent.hub import Hub
        # The hub is thread-local; from this thread it can only be found among all objects.
        hubs = [o for o in gc.get_objects() if isinstance(o, Hub)
                and getattr(o, "thread_ident", None) == self._main and o.loop is not None]
        return hubs[0] if hubs else None

    def _watch(self) -> None:
        while True:
            _real_sleep(0.2)
            deadline = self._deadline
            if deadline is None or _monotonic() <= deadline:
                continue
            hub = self._main_hub()
            if hub is not None:
                try:
                    hub.loop.run_callback_threadsafe(self._report, "hub's thread")
                    _real_sleep(_HUB_GRACE)
                except Exception:  # a destroyed loop: report from here instead
                    pass
            self._report("watchdog thread; greenlet frames of other threads are unreadable")


def _configure_support(use: str, timeout: float) -> None:
    """Set test.support up as regrtest's setup_tests does (resources, shorter timeouts)."""
    from test import support  # type: ignore[import-not-found]
    support.use_resources = [r for r in use.split(",") if r]
    support.verbose = 0
    support.LOOPBACK_TIMEOUT = min(support.LOOPBACK_TIMEOUT, timeout)
    support.INTERNET_TIMEOUT = min(support.INTERNET_TIMEOUT, timeout)
    support.SHORT_TIMEOUT = min(support.SHORT_TIMEOUT, timeout)
    support.LONG_TIMEOUT = min(support.LONG_TIMEOUT, timeout)


def _flatten(suite: Any) -> list[Any]:
    import unittest
    cases: list[Any] = []
    for test in suite:
        cases.extend(_flatten(test) if isinstance(test, unittest.TestSuite) else [test])
    return cases


def _select(cases: list[Any], skip: set[str], patterns: list[str]) -> list[Any]:
    import fnmatch
    chosen = [c for c in cases if c.id() not in skip]
    if patterns:
        chosen = [c for c in chosen
                  if any(fnmatch.fnmatchcase(c.id(), p) or p in c.id() for p in patterns)]
    return chosen


_RANK = {"passed": 0, "skipped": 1, "failed": 2, "errored": 3}


def _last_line(err: Any) -> str:
    import traceback
    lines = traceback.format_exception_only(err[0], err[1])
    text = lines[-1].strip() if lines else ""
    return text.splitlines()[0][:300] if text else ""


def _streaming_result(emit: Callable[..., None], watchdog: "Watchdog") -> Any:
    """A unittest result that emits one ``result`` event per test, worst outcome wins."""
    import unittest

    class StreamingResult(unittest.TestResult):
        def __init__(self) -> None:
            super().__init__()
            self._current: dict[str, Any] = {}

        def _note(self, test: Any, outcome: str, detail: str = "") -> None:
            test_id = test.id()
            if test_id != self._current.get("id"):
                # Class or module fixtures fail outside startTest/stopTest.
                emit(ev="result", id=test_id, outcome=outcome, detail=detail, duration=0.0)
                return
            if _RANK[outcome] >= _RANK[self._current["outcome"]]:
                self._current.update(outcome=outcome, detail=detail or self._current["detail"])

        def startTest(self, test: Any) -> None:
            super().startTest(test)
            self._current = {"id": test.id(), "outcome": "passed", "detail": "",
                             "t0": _monotonic()}
            emit(ev="start", id=test.id())
            watchdog.arm(test.id())

        def stopTest(self, test: Any) -> None:
            super().stopTest(test)
            cur, self._current = self._current, {}
            emit(ev="result", id=cur["id"], outcome=cur["outcome"], detail=cur["detail"],
                 duration=round(_monotonic() - cur["t0"], 3))
            watchdog.arm(f"after {cur['id']} (fixtures)")

        def addError(self, test: Any, err: Any) -> None:
            self._note(test, "errored", _last_line(err))

        def addFailure(self, test: Any, err: Any) -> None:
            self._note(test, "failed", _last_line(err))

        def addSubTest(self, test: Any, subtest: Any, err: Any) -> None:
            if err is not None:
                failed = issubclass(err[0], test.failureException)
                self._note(test, "failed" if failed else "errored",
                           f"{subtest._subDescription()}: {_last_line(err)}")

        def addSkip(self, test: Any, reason: str) -> None:
            self._note(test, "skipped", str(reason)[:300])

        def addUnexpectedSuccess(self, test: Any) -> None:
            self._note(test, "failed", "unexpected success")

    return StreamingResult()


def main(argv: list[str]) -> int:
    args = _parse(argv)
    _patch(args["column"])
    import importlib
    import unittest
    events = Events(args["events"])
    _configure_support(args["use"], args["timeout"])
    watchdog = Watchdog(events, args["timeout"], args["fallback"])
    watchdog.arm(f"{args['module']} (import)")
    name = args["module"]
    # A bare regrtest name lives in the test package; a dotted name is imported as given.
    module = importlib.import_module(name if "." in name else f"test.{name}")
    loader = unittest.TestLoader()
    cases = _flatten(loader.loadTestsFromModule(module))
    if loader.errors:
        events.emit(ev="fatal", detail="\n".join(str(e) for e in loader.errors)[-4000:])
        return 2
    skip: set[str] = set()
    if args["skip_file"]:
        with open(args["skip_file"]) as f:
            skip = {line.strip() for line in f if line.strip()}
    chosen = _select(cases, skip, args["match"])
    events.emit(ev="loaded", count=len(chosen))
    result = _streaming_result(events.emit, watchdog)
    unittest.TestSuite(chosen).run(result)
    watchdog.disarm()
    events.emit(ev="done")
    return 0


if __name__ == "__main__":
    sys.path[0:1] = []  # this directory must not shadow stdlib or test modules
    import os
    code = main(sys.argv[1:])
    sys.stdout.flush()
    sys.stderr.flush()
    # Leftover non-daemon threads (or greenlets) from a test must not hang the exit.
    os._exit(code)
