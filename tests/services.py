"""Real services for tests: a PostgreSQL server and a redis-server, each started per session.

PostgreSQL runs from Debian's server binaries (``/usr/lib/postgresql/<version>/bin``),
as the ``postgres`` user when the tests run as root (the server refuses root), on a unix
socket in a temp dir it owns, with ``fsync=off``. redis-server listens on loopback on a
free port with persistence off. Both are stopped at the end of the session.

When a binary is missing the fixture skips with the reason, unless the environment sets
``PATCHKIT_REQUIRE_SERVICES=1`` (CI does): then it fails, so a broken CI image cannot
pass by skipping.

Use from a ``conftest.py``: ``from services import postgres, redis_server  # noqa: F401``.
A gRPC server (grpcio, generic handlers) runs in its own process the same way.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator, NoReturn, TypeVar

import pytest

__all__ = ["Postgres", "Redis", "GrpcServer", "postgres", "redis_server", "grpc_server",
           "start_postgres", "start_redis", "start_grpc_server", "ServiceUnavailable",
           "free_port", "unavailable", "UNAVAILABLE"]

REQUIRE_ENV = "PATCHKIT_REQUIRE_SERVICES"


class ServiceUnavailable(RuntimeError):
    """A service's binaries or user are missing on this machine."""


@dataclass(frozen=True)
class Postgres:
    """A running PostgreSQL server reachable on a unix socket.

    Attributes:
        dsn: libpq connection string (``host=<socket dir> port=... user=postgres dbname=postgres``).
        socket_dir: Directory holding the server's unix socket.
        data_dir: The cluster's data directory.
    """

    dsn: str
    socket_dir: Path
    data_dir: Path
    bin_dir: Path


@dataclass(frozen=True)
class Redis:
    """A running redis-server on loopback."""

    host: str
    port: int

    @property
    def url(self) -> str:
        return f"redis://{self.host}:{self.port}/0"


@dataclass(frozen=True)
class GrpcServer:
    """A gRPC server in its own (unpatched) process, with generic handlers, no codegen.

    Methods (bytes in, bytes out): ``/patchkit.Test/Echo`` returns the request;
    ``/patchkit.Test/Sleep`` sleeps ``float(request)`` seconds, then returns the request.
    """

    target: str


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _pg_bin_dir() -> Path:
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"),
                        key=lambda p: int(Path(p).parent.parent.name)
                        if Path(p).parent.parent.name.isdigit() else 0)
    if candidates:
        return Path(candidates[-1]).parent
    found = shutil.which("pg_ctl")
    if found:
        return Path(found).parent
    raise ServiceUnavailable("PostgreSQL server binaries not found (looked for "
                             "/usr/lib/postgresql/*/bin/pg_ctl and pg_ctl on PATH); "
                             "install Debian's 'postgresql' package")


def _as_server_user() -> tuple[list[str], int | None, int | None]:
    """``(command prefix, uid, gid)`` for running PostgreSQL: as ``postgres`` when we are root."""
    if os.geteuid() != 0:
        return [], None, None
    try:
        user = pwd.getpwnam("postgres")
    except KeyError:
        raise ServiceUnavailable("running as root and there is no 'postgres' user "
                                 "to run the PostgreSQL server as") from None
    runuser = shutil.which("runuser")
    if runuser is None:
        raise ServiceUnavailable("running as root and 'runuser' is missing")
    return [runuser, "-u", "postgres", "--"], user.pw_uid, user.pw_gid


def _run(prefix: list[str], args: list[str], what: str, timeout: float = 60) -> None:
    proc = subprocess.run([*prefix, *args], capture_output=True, text=True, timeout=timeout)
    if proc.returncode != 0:
        raise RuntimeError(f"{what} failed (exit {proc.returncode}):\n{proc.stdout}\n{proc.stderr}")


def start_postgres(root: Path | None = None) -> tuple[Postgres, Callable[[], None]]:
    """Create a cluster in a new temp dir and start it; returns ``(server, stop)``.

    Raises:
        ServiceUnavailable: binaries or the ``postgres`` user are missing.
        RuntimeError: initdb or the server failed (the message carries their output).
    """
    bin_dir = _pg_bin_dir()
    prefix, uid, gid = _as_server_user()
    # Not under pytest's tmp dir: that one is 0700 root, which the postgres user can't enter.
    base = Path(tempfile.mkdtemp(prefix="patchkit-pg-", dir=root))
    if uid is not None and gid is not None:
        os.chown(base, uid, gid)
    data, sockets, log = base / "data", base, base / "server.log"
    _run(prefix, [str(bin_dir / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres",
                  "--no-sync", "-E", "UTF8", "--locale", "C"], "initdb")
    options = (f"-k {sockets} -c listen_addresses='' -c fsync=off -c full_page_writes=off "
               "-c synchronous_commit=off -c max_connections=60")
    _run(prefix, [str(bin_dir / "pg_ctl"), "-D", str(data), "-l", str(log), "-o", options,
                  "-w", "-t", "60", "start"], "pg_ctl start")

    def stop() -> None:
        subprocess.run([*prefix, str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "immediate",
                        "-w", "stop"], capture_output=True, timeout=60)
        shutil.rmtree(base, ignore_errors=True)

    dsn = f"host={sockets} port=5432 user=postgres dbname=postgres"
    return Postgres(dsn, sockets, data, bin_dir), stop


def start_redis() -> tuple[Redis, Callable[[], None]]:
    """Start redis-server on 127.0.0.1 on a free port; returns ``(server, stop)``.

    Raises:
        ServiceUnavailable: redis-server is not installed.
        RuntimeError: it did not answer PING within 10 s.
    """
    binary = shutil.which("redis-server")
    if binary is None:
        raise ServiceUnavailable("redis-server not found on PATH; install Debian's "
                                 "'redis-server' package")
    for _ in range(5):
        port = free_port()
        proc = subprocess.Popen([binary, "--port", str(port), "--bind", "127.0.0.1",
                                 "--save", "", "--appendonly", "no", "--daemonize", "no"],
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        if _wait_for_ping("127.0.0.1", port, proc):
            break
        proc.kill()
        proc.wait()
    else:
        raise RuntimeError("redis-server did not start (5 tries on free ports)")

    def stop() -> None:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()

    return Redis("127.0.0.1", port), stop


GRPC_SERVER = """
import sys, time
from concurrent import futures
import grpc

def echo(request, context):
    return request

def sleep(request, context):
    time.sleep(float(request.decode() or 0))
    return request

handler = grpc.method_handlers_generic_handler("patchkit.Test", {
    "Echo": grpc.unary_unary_rpc_method_handler(echo),
    "Sleep": grpc.unary_unary_rpc_method_handler(sleep),
})
server = grpc.server(futures.ThreadPoolExecutor(max_workers=64))
server.add_generic_rpc_handlers((handler,))
port = server.add_insecure_port("127.0.0.1:0")
server.start()
print(port, flush=True)
sys.stdin.read()  # runs until its parent closes stdin (or dies)
server.stop(0)
"""


def start_grpc_server() -> tuple[GrpcServer, Callable[[], None]]:
    """Start :data:`GRPC_SERVER` with this interpreter; returns ``(server, stop)``.

    Raises:
        ServiceUnavailable: grpcio is not installed.
        RuntimeError: the server did not report its port.
    """
    import importlib.util
    import sys

    if importlib.util.find_spec("grpc") is None:
        raise ServiceUnavailable("grpcio is not installed (pip install -e . --group test; python3 dev.py test does)")
    proc = subprocess.Popen([sys.executable, "-c", GRPC_SERVER], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None and proc.stdin is not None
    line = proc.stdout.readline().strip()
    if not line.isdigit():
        proc.kill()
        proc.wait()
        raise RuntimeError(f"the gRPC server did not start (said {line!r})")

    def stop() -> None:
        assert proc.stdin is not None and proc.stdout is not None
        proc.stdin.close()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        proc.stdout.close()

    return GrpcServer(f"127.0.0.1:{line}"), stop


def _wait_for_ping(host: str, port: int, proc: subprocess.Popen[bytes]) -> bool:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            with socket.create_connection((host, port), timeout=1) as sock:
                sock.sendall(b"PING\r\n")
                if sock.recv(16).startswith(b"+PONG"):
                    return True
        except OSError:
            time.sleep(0.05)
    return False


UNAVAILABLE = "unavailable here: "  # dev.py counts the skips whose reason starts so


def unavailable(reason: str) -> NoReturn:
    """Skip a test this machine cannot run (a server, a package, a browser), with *reason*.

    Under ``PATCHKIT_REQUIRE_SERVICES=1`` (CI) it fails instead, so a broken CI image cannot
    pass by skipping. The skip's reason starts with :data:`UNAVAILABLE`, which ``dev.py test``
    counts in its closing line.
    """
    if os.environ.get(REQUIRE_ENV) == "1":
        pytest.fail(f"{reason} ({REQUIRE_ENV}=1, so this is a failure, not a skip)")
    pytest.skip(UNAVAILABLE + reason)


def _unavailable(exc: ServiceUnavailable) -> NoReturn:
    unavailable(str(exc))


T = TypeVar("T")


def _serve(start: Callable[[], tuple[T, Callable[[], None]]]) -> Iterator[T]:
    """Start a service for a session fixture, skip (or fail in CI) if it can't, stop it after."""
    try:
        server, stop = start()
    except ServiceUnavailable as exc:
        _unavailable(exc)
    try:
        yield server
    finally:
        stop()


@pytest.fixture(scope="session")
def postgres() -> Iterator[Postgres]:
    """A PostgreSQL server for the whole session (per xdist worker)."""
    yield from _serve(start_postgres)


@pytest.fixture(scope="session")
def redis_server() -> Iterator[Redis]:
    """A redis-server on loopback for the whole session (per xdist worker)."""
    yield from _serve(start_redis)


@pytest.fixture(scope="session")
def grpc_server() -> Iterator[GrpcServer]:
    """A gRPC server (generic handlers) in its own process for the whole session."""
    yield from _serve(start_grpc_server)
