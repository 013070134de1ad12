"""A parent that starts 2 multiprocessing children; each child blocks its own hub.

    python mp_children.py START_METHOD PATCHER     # fork | spawn | forkserver, patchkit | gevent

Each child prints ``CHILD <pid>``; the parent prints ``PARENT <pid> <exit codes>``.
A spawned child imports this file again (as ``__mp_main__``), so it patches the same way.
"""
import sys

if sys.argv[2] == "gevent":
    from gevent import monkey

    monkey.patch_all()
else:
    import patchkit

    patchkit.patch_all()

import ctypes
import multiprocessing
import os

import gevent

libc = ctypes.CDLL(None)


def child_work() -> None:
    libc.usleep(100_000)  # a C call that never yields: holds this child's hub for 100 ms


def child_main() -> None:
    gevent.joinall([gevent.spawn(child_work), gevent.spawn(gevent.sleep, 0.01)])
    os.write(1, f"CHILD {os.getpid()}\n".encode())  # one write: children share stdout


if __name__ == "__main__":
    context = multiprocessing.get_context(sys.argv[1])
    children = [context.Process(target=child_main) for _ in range(2)]
    for child in children:
        child.start()
    for child in children:
        child.join()
    print(f"PARENT {os.getpid()}", *[child.exitcode for child in children], flush=True)
