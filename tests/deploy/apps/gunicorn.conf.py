"""gunicorn settings that audit every worker in-process (the recipe in docs/servers.md).

Each worker starts its own audit right after the fork and writes ``audit-<pid>.json`` in
gunicorn's working directory: every few seconds while it runs, and once more as it exits.
Merge them with ``python -m patchkit.audit --render audit-*.json --json merged.json``.
"""
import patchkit.audit

_audit = None


def post_fork(server, worker):
    global _audit
    _audit = patchkit.audit.start(json="audit-{pid}.json")


def worker_exit(server, worker):
    if _audit is not None:
        _audit.stop()
