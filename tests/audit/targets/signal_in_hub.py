"""A signal handled while the hub greenlet runs only gevent's own code (not a loop callback).

The hub's first run calls start_periodic_monitoring_thread() before its loop starts. Here
that call (a callable of the standard library, so no frame of this file is on the hub's
stack) unblocks the signal the target left pending, so its handler runs in Hub.run, as a
SIGTERM or SIGINT arriving at that moment would. With the argument ``C`` the callable is
the C function itself, so the handler's frame is Hub.run's own -- as for a signal checked
at Hub.run's first instruction. The finally block needs the hub afterwards.
"""
import patchkit

patchkit.patch_all()

import _signal  # noqa: E402
import functools  # noqa: E402
import signal  # noqa: E402
import sys  # noqa: E402

import gevent  # noqa: E402
import gevent.hub  # noqa: E402

SIGNAL = signal.SIGINT if sys.argv[1] == "INT" else signal.SIGTERM
unblock = _signal.pthread_sigmask if sys.argv[2:] == ["C"] else signal.pthread_sigmask
signal.pthread_sigmask(signal.SIG_BLOCK, [SIGNAL])
native_ident = patchkit.get_original("_thread", "get_ident")()  # not a greenlet's id
signal.pthread_kill(native_ident, SIGNAL)  # pending on this thread
# pthread_sigmask handles the pending signal before returning, in the hub's Hub.run frame.
gevent.hub.Hub.start_periodic_monitoring_thread = staticmethod(functools.partial(
    unblock, signal.SIG_UNBLOCK, [SIGNAL]))
try:
    gevent.sleep(5)
    print("not stopped")
finally:
    gevent.sleep(0.01)  # a finally block that switches to the hub, as a server's stop() does
    print("target finally", flush=True)
