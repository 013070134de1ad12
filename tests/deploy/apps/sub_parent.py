"""A patched parent that runs sub_child.py with ``subprocess.run([sys.executable, ...])``."""
import patchkit

patchkit.patch_all()

import os  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402

child = subprocess.run([sys.executable, str(Path(__file__).with_name("sub_child.py"))])
print(f"PARENT {os.getpid()} {child.returncode}", flush=True)
