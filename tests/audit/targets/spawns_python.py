"""Starts a Python child (this interpreter) that patches and blocks, and a non-Python one."""
import subprocess
import sys

import patchkit

patchkit.patch_all()

CHILD = ("import gevent.monkey; gevent.monkey.patch_all()\n"
         "import ctypes, gevent\n"
         "def block():\n"
         "    ctypes.CDLL(None).usleep(70000)\n"
         "gevent.spawn(block).join()\n")
subprocess.run([sys.executable, "-c", CHILD], check=True)
subprocess.run(["true"], check=True)
