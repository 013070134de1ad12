"""Patching takes a second (a listener waits in it), so a stop lands inside patching."""
import time

import patchkit


class SlowListener:
    def will_patch(self, names):
        print("READY", flush=True)
        time.sleep(1.0)


patchkit.add_listener(SlowListener())
patchkit.patch_all()
print("patched", flush=True)
while True:
    time.sleep(0.01)
