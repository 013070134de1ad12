"""socket: the socket class and its helpers become gevent's cooperative ones (DNS is ``dns``)."""

from ..registry import PatcherSpec, gevent_patch

PATCHER = PatcherSpec(
    name="socket",
    targets=("socket",),
    source="gevent.socket",
    apply=gevent_patch("patch_socket", dns=False, aggressive=True),
    after=("time",),
    gevent_flag="socket",
    description="socket.socket, create_connection, socketpair, fromfd ... -> gevent.socket",
)
