"""Forks; the child finishes the script too, but only the parent writes the report."""
import os

import patchkit

patchkit.patch_all()

pid = os.fork()
if pid == 0:
    print("child", flush=True)
else:
    os.waitpid(pid, 0)
    print("parent", flush=True)
