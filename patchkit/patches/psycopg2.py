"""psycopg2: a gevent wait callback, so connects and queries yield to the hub.

psycopg2's C code (libpq) waits on its socket itself unless a *wait callback* is set
(``psycopg2.extensions.set_wait_callback``); then it runs every connect and query
asynchronously and calls the callback to wait. :func:`gevent_wait_callback` waits with
gevent's ``wait_read``/``wait_write``, and keeps libpq's semantics that a naive callback
loses:

- ``connect_timeout`` (or ``PGCONNECT_TIMEOUT``) still bounds a connection attempt,
  raising ``OperationalError("timeout expired")`` as libpq does (at least 2 s, as libpq).
  With several hosts, the timeout ends the attempt instead of moving to the next host.
- An interruption while a query runs -- a ``gevent.Timeout``, a killed greenlet
  (``GreenletExit``), ``KeyboardInterrupt`` -- sends a cancel request to the server and
  waits for it to stop the query, so the connection is left idle and usable; the
  ``execute`` then raises ``psycopg2.errors.QueryCanceled``, the exception psycopg2's own
  ``wait_select`` gives for Ctrl-C. The interruption itself is not re-raised because
  psycopg2 closes the connection whenever a wait callback raises. It *is* re-raised (and
  the connection closed) when the query finished anyway before the cancel arrived, when
  the server does not answer the cancel within :data:`CANCEL_GRACE` seconds, or when a
  second interruption comes while waiting for it: a kill is never swallowed.
- Sending the cancel request is one short blocking round trip to the server (libpq's
  ``PQcancel`` holds the GIL).

The callback is recorded in the ledger as the setting ``psycopg2.extensions.wait_callback``
and ``unpatch_all()`` puts back whatever callback was there before.
"""

from __future__ import annotations

import os
import time
from typing import Any

from ..registry import PatcherSpec, Setting

__all__ = ["PATCHER", "gevent_wait_callback", "CANCEL_GRACE"]

#: Seconds to wait for the server to stop a cancelled query before giving up on the
#: connection (psycopg2 then closes it).
CANCEL_GRACE = 10.0

# psycopg2.extensions constants, spelled here so this module imports nothing heavy.
_POLL_OK, _POLL_READ, _POLL_WRITE = 0, 1, 2
_STATUS_SETUP, _STATUS_READY, _STATUS_BEGIN = 0, 1, 2


def _dsn_parameter(conn: Any, name: str) -> str | None:
    """A connection parameter as libpq resolved it (``conn.info``, psycopg2 >= 2.8), else
    as written in the DSN."""
    info = getattr(conn, "info", None)
    if info is not None:
        return info.dsn_parameters.get(name)  # type: ignore[no-any-return]
    from psycopg2.extensions import parse_dsn

    return parse_dsn(conn.dsn).get(name)  # type: ignore[no-any-return]


def _connect_timeout(conn: Any) -> float | None:
    """libpq's ``connect_timeout`` for *conn* in seconds (None: wait forever)."""
    value = _dsn_parameter(conn, "connect_timeout")
    if value is None:
        value = os.environ.get("PGCONNECT_TIMEOUT")
    try:
        seconds = int(str(value).strip()) if value is not None else 0
    except ValueError:
        return None
    # libpq: "The minimum allowed timeout is 2 seconds, therefore a value of 1 is
    # interpreted as 2"; zero or negative means no timeout.
    return float(max(seconds, 2)) if seconds > 0 else None


def _wait(conn: Any, state: int, deadline: float | None, timeout_exc: Any) -> None:
    """Wait cooperatively until *conn*'s socket is ready for what *state* asks."""
    from gevent.socket import wait_read, wait_write

    timeout = None
    if deadline is not None:
        timeout = deadline - time.monotonic()
        if timeout <= 0:
            raise timeout_exc
    if state == _POLL_READ:
        wait_read(conn.fileno(), timeout=timeout, timeout_exc=timeout_exc)
    elif state == _POLL_WRITE:
        wait_write(conn.fileno(), timeout=timeout, timeout_exc=timeout_exc)
    else:
        raise conn.OperationalError(f"bad state from poll: {state}")


def _drive(conn: Any, deadline: float | None, timeout_exc: Any) -> None:
    """Poll *conn* until libpq reports the operation done, waiting between polls."""
    while True:
        state = conn.poll()
        if state == _POLL_OK:
            return
        _wait(conn, state, deadline, timeout_exc)


def gevent_wait_callback(conn: Any) -> None:
    """psycopg2 wait callback: run libpq's asynchronous protocol, yielding to the gevent hub.

    Args:
        conn: The psycopg2 connection being connected or queried.

    Raises:
        psycopg2.OperationalError: ``timeout expired`` when ``connect_timeout`` elapsed.
        BaseException: an interruption that could not be turned into a clean cancel
            (see the module docstring); psycopg2 then closes the connection.
    """
    import psycopg2

    connecting = conn.status == _STATUS_SETUP
    deadline = timeout_exc = None
    if connecting:
        timeout = _connect_timeout(conn)
        if timeout is not None:
            deadline = time.monotonic() + timeout
            timeout_exc = psycopg2.OperationalError("timeout expired")
    try:
        _drive(conn, deadline, timeout_exc)
    except BaseException as exc:
        if connecting or isinstance(exc, psycopg2.Error) or not _cancel(conn):
            raise
        _finish_cancelled(conn, exc)


def _cancel(conn: Any) -> bool:
    """Ask the server to stop the running query; False when that is not possible."""
    if conn.closed or conn.status not in (_STATUS_READY, _STATUS_BEGIN):
        return False
    try:
        conn.cancel()
    except Exception:
        return False
    return True


def _finish_cancelled(conn: Any, interruption: BaseException) -> None:
    """Wait for the cancelled query to end; re-raise *interruption* unless it ended in error.

    Returning normally lets psycopg2 raise the query's error (``QueryCanceled``) with the
    connection idle. A query that completed before the cancel reached the server has no
    error to carry the interruption, so the interruption is raised instead.
    """
    import psycopg2

    gave_up = psycopg2.OperationalError("the server did not stop the cancelled query")
    try:
        _drive(conn, time.monotonic() + CANCEL_GRACE, gave_up)
    except BaseException as exc:
        if exc is gave_up:
            raise interruption from None
        raise  # a second interruption (a kill during a timeout's cancel) wins
    info = getattr(conn, "info", None)
    if not getattr(info, "error_message", None):
        # No error to carry it (or no way to tell, before psycopg2 2.8): raise it.
        raise interruption


def _get() -> Any:
    from psycopg2 import extensions

    return extensions.get_wait_callback()


def _set(callback: Any) -> None:
    from psycopg2 import extensions

    extensions.set_wait_callback(callback)


def _apply() -> None:
    _set(gevent_wait_callback)


PATCHER = PatcherSpec(
    name="psycopg2",
    targets=("psycopg2.extensions",),
    on_import="psycopg2",
    source="gevent.socket",
    apply=_apply,
    settings=(Setting("psycopg2.extensions", "wait_callback", _get, _set),),
    description="psycopg2 wait callback: connects and queries wait in gevent "
                "(connect_timeout kept; interruptions cancel the query)",
)
