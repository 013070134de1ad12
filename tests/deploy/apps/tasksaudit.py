"""tasksmod's Celery app, audited in-process (the recipe in docs/servers.md, gevent pool).

The gevent pool runs tasks in the worker process itself, so the audit starts with the
worker (``worker_init``) and writes ``celery-audit-<pid>.json`` in the working directory
when it shuts down (``worker_shutdown``, sent on a warm shutdown such as SIGTERM).
"""
import patchkit.audit
from celery.signals import worker_init, worker_shutdown

from tasksmod import app, block, coop  # noqa: F401  (the app and its tasks)

_audit = None


@worker_init.connect
def start_audit(**kwargs):
    global _audit
    _audit = patchkit.audit.start(json="celery-audit-{pid}.json")


@worker_shutdown.connect
def stop_audit(**kwargs):
    if _audit is not None:
        _audit.stop()
