"""gevent's ``did_patch_all`` plugin entry point: the monitor starts where patching ends.

Loaded by gevent after every ``gevent.monkey.patch_all()`` (and after
``patchkit.patch_all()``, which announces the same event), so it must cost nothing
when ``PATCHKIT_MONITOR`` is not set: one environment lookup, nothing imported (it
lives outside ``patchkit.monitor`` so that package is not imported either).
"""

from __future__ import annotations

import os


def did_patch_all(event: object) -> None:
    """Start the monitor when ``PATCHKIT_MONITOR`` is set (never raises)."""
    if not os.environ.get("PATCHKIT_MONITOR"):
        return
    try:
        from .monitor import from_environment

        from_environment()
    except Exception as exc:  # the program's patch_all must not fail because of us
        import sys

        print(f"patchkit.monitor: could not start: {exc!r}", file=sys.__stderr__)
