"""ssl: SSLContext, SSLSocket and the wrapping helpers become gevent's cooperative ones."""

from ..registry import PatcherSpec, gevent_patch

PATCHER = PatcherSpec(
    name="ssl",
    targets=("ssl",),
    source="gevent.ssl",
    apply=gevent_patch("patch_ssl"),
    after=("socket",),
    gevent_flag="ssl",
    description="ssl.SSLContext, SSLSocket, wrap_socket, get_server_certificate -> gevent.ssl",
)
