"""Auditing from inside a program whose launcher you don't control.

    import patchkit.audit
    audit = patchkit.audit.start(json="audit-{pid}.json")   # on the hub's thread
    ...
    audit.stop()                                              # writes the final report

``start()`` audits the calling process from now on (and each child it forks, each into
its own files: ``{pid}`` in a path is the writing process's pid). The report files are
rewritten every ``flush_interval`` seconds when something new was seen, so a worker
killed by its master loses at most the last interval. Reports of several processes
merge with ``python -m patchkit.audit --render a.json b.json --json merged.json``.
Recipes for gunicorn, Celery and uWSGI are in ``docs/servers.md``.
"""

from __future__ import annotations

import os
import sys
from types import TracebackType

from .._cli import number_problem
from ..model import Part, Report, build_report
from .config import DEFAULT_THRESHOLD, ConfigError, check_report_path
from .follow import DEFAULT_FLUSH, ProcessAudit
from .session import DetectionSettings, Session

__all__ = ["Audit", "start"]


class Audit:
    """A running in-process audit; a context manager that stops it on exit.

    Use :func:`start` to make one.
    """

    def __init__(self, settings: DetectionSettings, json: str | None, html: str | None,
                 sarif: str | None, flush_interval: float) -> None:
        self.paths = {"json": json, "html": html, "sarif": sarif}
        self._audit = ProcessAudit(Session(settings), None, flush_interval, sink=self._write)
        self.report: Report | None = None

    @property
    def running(self) -> bool:
        """Whether the audit is still watching this process."""
        return not self._audit.finished

    def _start(self) -> None:
        self._audit.start()

    def write_report(self) -> Report:
        """Write the report so far to the files given to :func:`start`; returns it."""
        part = self._audit.part(ended=False)
        self._write(part)
        return _report(part)

    def stop(self) -> Report:
        """Stop watching and write the final report; later calls return the same report."""
        if self.report is None:
            part = self._audit.finish(None)
            self.report = _report(part)
        return self.report

    def _write(self, part: Part) -> None:
        from .report import write_json
        from .saved import emit_files

        report = _report(part)
        pid = str(part.info.pid)
        if self.paths["json"] is not None:
            write_json(report, self.paths["json"].replace("{pid}", pid))
        html, sarif = (self.paths[k] for k in ("html", "sarif"))
        if html is not None or sarif is not None:
            for line in emit_files(report, html.replace("{pid}", pid) if html else None,
                                   sarif.replace("{pid}", pid) if sarif else None, os.getcwd()):
                print(f"patchkit.audit: {line}", file=sys.__stderr__)

    def __enter__(self) -> Audit:
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()


def _report(part: Part) -> Report:
    import shlex

    info = part.info
    return build_report(target=shlex.join(info.argv[1:]) or "?", argv=info.argv,
                        exit_code=info.exit_code or 0, duration_s=info.duration_s,
                        patched=info.patched, findings=part.findings,
                        stopped_by=None if info.ended else "still running", processes=[info],
                        started_at=info.started_at)


def start(*, threshold: float = DEFAULT_THRESHOLD, json: str | None = None,
          html: str | None = None, sarif: str | None = None,
          include: tuple[str, ...] = (), exclude: tuple[str, ...] = (),
          flush_interval: float = DEFAULT_FLUSH, exact: bool = False) -> Audit:
    """Audit this process from now on; call on the thread that runs gevent's hub.

    Args:
        threshold: Minimum hub block reported, in seconds.
        json, html, sarif: Report files to (re)write; ``{pid}`` is replaced by the pid.
        include, exclude: Package filters, as ``--include``/``--exclude``.
        flush_interval: Seconds between rewrites of the report files.
        exact: Time every greenlet switch instead of each loop turn, as ``--exact``.

    Raises:
        ConfigError: a bad threshold or interval, or a report path that cannot be written.
    """
    for name, value, low in (("threshold", threshold, 0.0001),
                             ("flush_interval", flush_interval, 0.01)):
        problem = number_problem(value, low, 3600.0)
        if problem is not None:
            raise ConfigError(f"{name}={value!r} {problem} (seconds)")
    pid = str(os.getpid())
    for option, path in (("json", json), ("html", html), ("sarif", sarif)):
        if path is not None:
            check_report_path(path.replace("{pid}", pid), option)
    json, html, sarif = (os.path.abspath(p) if p else None for p in (json, html, sarif))
    audit = Audit(DetectionSettings(threshold, tuple(include), tuple(exclude), exact), json, html,
                  sarif, flush_interval)
    audit._start()
    return audit
