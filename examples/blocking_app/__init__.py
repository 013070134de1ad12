"""A small service with the mistakes the auditor finds (see docs/audit.md).

Run it under the auditor from the repository root:

    python -m patchkit.audit -m examples.blocking_app

The trap: ``python -m examples.blocking_app`` imports this package *before* running
``__main__.py``, so although ``__main__`` calls ``patchkit.patch_all()`` on its first
line, everything imported here was imported before patching -- ``helpers`` keeps
the original ``time.sleep``, and the metrics thread started here stays a native
thread.
"""

import threading
import time

from . import helpers  # noqa: F401  -- imported before patching, on purpose

_stop = threading.Event()


def _flush_metrics() -> None:
    while not _stop.is_set():
        time.sleep(0.05)


threading.Thread(target=_flush_metrics, name="metrics-flusher", daemon=True).start()
