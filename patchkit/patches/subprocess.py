"""subprocess: Popen and the call helpers wait cooperatively."""

from ..registry import PatcherSpec, gevent_patch

PATCHER = PatcherSpec(
    name="subprocess",
    targets=("subprocess",),
    source="gevent.subprocess",
    apply=gevent_patch("patch_subprocess"),
    after=("os",),
    gevent_flag="subprocess",
    description="subprocess.Popen, call, check_call, check_output, run -> gevent.subprocess",
)
