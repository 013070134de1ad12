"""queue: Queue, SimpleQueue, LifoQueue, PriorityQueue become gevent's."""

from ..registry import PatcherSpec, gevent_patch

PATCHER = PatcherSpec(
    name="queue",
    targets=("queue",),
    source="gevent.queue",
    apply=gevent_patch("patch_queue"),
    after=("threading",),
    gevent_flag="queue",
    description="queue.Queue, SimpleQueue, LifoQueue, PriorityQueue -> gevent.queue",
)
