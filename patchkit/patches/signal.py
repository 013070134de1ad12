"""signal: ``signal.signal`` cooperates with gevent's SIGCHLD handling."""

from ..registry import PatcherSpec, gevent_patch

PATCHER = PatcherSpec(
    name="signal",
    targets=("signal",),
    source="gevent.signal",
    apply=gevent_patch("patch_signal"),
    after=("os",),
    gevent_flag="signal",
    description="signal.signal, getsignal -> gevent.signal (SIGCHLD with patched os)",
)
