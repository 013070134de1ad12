"""dns: name resolution in ``socket`` goes through gevent's resolver (a threadpool by default)."""

from ..registry import PatcherSpec, gevent_patch

PATCHER = PatcherSpec(
    name="dns",
    targets=("socket",),
    source="gevent.socket",
    apply=gevent_patch("patch_dns"),
    after=("socket",),
    gevent_flag="dns",
    description="socket.getaddrinfo, gethostbyname, getnameinfo ... -> gevent's resolver",
)
