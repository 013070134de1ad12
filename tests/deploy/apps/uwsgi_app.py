"""app.py's Flask app for uWSGI's gevent loop, each worker audited in-process (the recipe in
docs/servers.md): the audit starts after the fork (``uwsgidecorators.postfork``) and writes
``uwsgi-audit-<pid>.json`` in the working directory when the worker ends (``uwsgi.atexit``;
uWSGI does not run Python's own atexit handlers in its workers).
"""
import patchkit.audit
import uwsgi
from uwsgidecorators import postfork

from app import app  # noqa: F401  (the WSGI callable uWSGI serves)


@postfork
def start_audit():
    uwsgi.atexit = patchkit.audit.start(json="uwsgi-audit-{pid}.json").stop
