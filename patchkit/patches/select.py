"""select: ``select.select``/``poll`` and ``selectors.DefaultSelector``; epoll and kqueue are removed."""

from ..registry import PatcherSpec, gevent_patch

PATCHER = PatcherSpec(
    name="select",
    targets=("select", "selectors"),
    source="gevent.select",
    # Like gevent's patch_all(select=True): both modules, aggressively (blocking
    # epoll/kqueue/devpoll selectors are removed so nothing picks them by default).
    apply=gevent_patch("patch_select", "patch_selectors", aggressive=True),
    after=("socket",),
    gevent_flag="select",
    description="select.select, select.poll, selectors.DefaultSelector -> gevent.select",
)
