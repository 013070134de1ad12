"""Waits on an event nothing will set: gevent raises LoopExit in the main greenlet."""
import patchkit

patchkit.patch_all()

from gevent.event import Event  # noqa: E402

Event().wait()
