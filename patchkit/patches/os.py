"""os: ``fork`` and ``waitpid`` (and friends) from gevent.os."""

from ..registry import PatcherSpec, gevent_patch

PATCHER = PatcherSpec(
    name="os",
    targets=("os",),
    source="gevent.os",
    apply=gevent_patch("patch_os"),
    gevent_flag="os",
    description="os.fork, os.waitpid, os.forkpty ... -> gevent.os (needs signal for SIGCHLD)",
)
