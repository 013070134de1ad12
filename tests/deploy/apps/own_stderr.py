"""A program that replaces sys.stderr, as Celery does, then blocks its hub once.

    python own_stderr.py prefix     # sys.stderr prefixes every line ("LOGGED: ...")
    python own_stderr.py swallow    # sys.stderr and sys.__stderr__ keep everything
"""
import patchkit

patchkit.patch_all()

import ctypes  # noqa: E402
import io  # noqa: E402
import sys  # noqa: E402

import gevent  # noqa: E402


class Prefixed:
    """A logging proxy's shape: every line written goes out with a prefix."""

    def __init__(self, stream):
        self.stream = stream

    def write(self, text):
        for line in text.splitlines(True):
            self.stream.write("LOGGED: " + line)
        return len(text)

    def flush(self):
        self.stream.flush()


if sys.argv[1] == "prefix":
    sys.stderr = Prefixed(sys.__stderr__)
else:
    sys.stderr = sys.__stderr__ = io.StringIO()
print("hello from the program", file=sys.stderr)

libc = ctypes.CDLL(None)


def work() -> None:
    libc.usleep(60_000)  # a C call that never yields: holds the hub for 60 ms


gevent.joinall([gevent.spawn(work), gevent.spawn(gevent.sleep, 0.01)])
