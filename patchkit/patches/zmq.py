"""pyzmq: the gevent-aware classes pyzmq ships in ``zmq.green``, selected for you.

libzmq's blocking calls (``recv``, ``send``, ``Poller.poll``) wait in C, holding the hub.
pyzmq ships gevent-aware subclasses in ``zmq.green`` that set ``NOBLOCK`` and wait on the
socket's ``zmq.FD`` through gevent; its documentation says to write
``import zmq.green as zmq``. This patcher makes that choice for code that writes
``import zmq``: it puts ``zmq.green``'s ``Context``, ``Socket``, ``Poller`` and ``device``
on the ``zmq`` module when ``zmq`` is imported (or at once, if it already is), so
``zmq.Context()`` and ``zmq.Context.instance()`` hand out green sockets.

Contexts and sockets created before it ran, and classes bound with ``from zmq import
Context`` before it ran, stay blocking (the audit's stale-reference scan names such
bindings). The swaps are module attributes, recorded in the ledger and restored by
``unpatch_all()``; ``zmq.green`` itself stays imported (it only defines subclasses).
pyzmq subscripts ``zmq.Socket``/``zmq.Context`` in its own modules (``zmq.asyncio``
subclasses ``zmq.Socket[Future]``); green's classes are given the originals' subscript,
so those modules import as they would unpatched (left in place by ``unpatch_all()``:
it only makes green's classes take type parameters).
"""

from __future__ import annotations

from ..registry import PatcherSpec

__all__ = ["PATCHER", "NAMES"]

#: The ``zmq`` attributes replaced by their ``zmq.green`` counterparts.
NAMES = ("Context", "Socket", "Poller", "device")


def _apply() -> None:
    import zmq
    # zmq.green binds the originals it subclasses at its import: import it before swapping.
    import zmq.green as green

    for name in ("Context", "Socket"):
        # pyzmq's own modules subscript these at import (zmq._future, imported by
        # zmq.asyncio: ``class _AsyncSocket(_Async, zmq.Socket[Future])``); green's
        # subclasses are not generic, so a subscript gives the original's alias, and
        # type-level uses stay what they were.
        _subscript_as(getattr(green, name), getattr(zmq, name))
    for name in NAMES:
        setattr(zmq, name, getattr(green, name))


def _subscript_as(green_class: type, original: type) -> None:
    if "__class_getitem__" in green_class.__dict__ or \
            not hasattr(original, "__class_getitem__"):
        return

    def __class_getitem__(cls: type, item: object) -> object:
        return original[item]  # type: ignore[index]

    green_class.__class_getitem__ = classmethod(__class_getitem__)  # type: ignore[attr-defined]


PATCHER = PatcherSpec(
    name="zmq",
    targets=("zmq",),
    on_import="zmq",
    source="zmq.green",
    apply=_apply,
    after=("threading", "socket", "select"),
    description="pyzmq: zmq.Context/Socket/Poller/device become zmq.green's gevent-aware ones",
)
