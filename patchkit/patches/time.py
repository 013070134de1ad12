"""time: ``time.sleep`` becomes ``gevent.sleep``."""

from ..registry import PatcherSpec, gevent_patch

PATCHER = PatcherSpec(
    name="time",
    targets=("time",),
    source="gevent.time",
    apply=gevent_patch("patch_time"),
    # threading's patch still needs the real time.sleep while it runs.
    after=("threading",),
    gevent_flag="time",
    description="time.sleep -> gevent.sleep",
)
