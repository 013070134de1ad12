"""A signal handled while the hub greenlet runs its own Python code (not a loop callback).

The hub's first run calls start_periodic_monitoring_thread() before its loop starts; the
signal the target sends itself there is handled in the hub greenlet, as a SIGTERM or
SIGINT arriving at that moment would be. The finally block needs the hub afterwards.
"""
import patchkit

patchkit.patch_all()

import os  # noqa: E402
import signal  # noqa: E402
import sys  # noqa: E402

import gevent  # noqa: E402
import gevent.hub  # noqa: E402

SIGNAL = signal.SIGINT if sys.argv[1:] == ["INT"] else signal.SIGTERM
_start = gevent.hub.Hub.start_periodic_monitoring_thread


def _start_and_signal(hub):
    os.kill(os.getpid(), SIGNAL)  # handled at the next bytecode, in the hub greenlet
    return _start(hub)


gevent.hub.Hub.start_periodic_monitoring_thread = _start_and_signal
try:
    gevent.sleep(5)
    print("not stopped")
finally:
    gevent.sleep(0.01)  # a finally block that switches to the hub, as a server's stop() does
    print("target finally", flush=True)
