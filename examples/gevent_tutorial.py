"""The gevent tutorial's first example (shared/seed), with patchkit.patch_all() as the first line.

Run: python examples/gevent_tutorial.py
"""
import patchkit; patchkit.patch_all()  # noqa: E702  -- in place of gevent.monkey.patch_all()

import select
import socket

import gevent


def func1():
    print("func1 running")
    gevent.sleep(2)             # 内部函数实现io操作
    print("switch func1")


def func2():
    print("func2 running")
    gevent.sleep(1)
    print("switch func2")


def func3():
    print("func3  running")
    gevent.sleep(0)
    print("func3 done..")


gevent.joinall([gevent.spawn(func1),
                gevent.spawn(func2),
                gevent.spawn(func3),
                ])

# The tutorial's monkey-patching section: after patching, the stdlib names are gevent's.
print(f"socket.socket is {socket.socket}")
print(f"select.select is {select.select} from {select.select.__module__}")
