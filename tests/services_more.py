"""More real services for the evidence runs: MariaDB, memcached, RabbitMQ, OpenLDAP, sshd, moto.

Each runs from Debian's (or PyPI's) binaries in a new temp dir, on loopback or a unix
socket, as a child of the test session, and is stopped (its process group killed) at the
end; none is left behind. As in :mod:`services`, a missing binary skips the tests that need
it, with the reason and the package to install, unless ``PATCHKIT_REQUIRE_SERVICES=1``
(CI): then it fails.

RabbitMQ gets its own ``epmd`` on a private port, so no Erlang port mapper daemon outlives
the session.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

import pytest

from services import ServiceUnavailable, _serve, free_port

__all__ = ["MariaDB", "Memcached", "RabbitMQ", "Slapd", "Sshd", "Moto", "mariadb",
           "memcached", "rabbitmq", "slapd", "sshd", "moto_server", "ENVIRONMENT"]


def _binary(name: str, package: str, *dirs: str) -> str:
    for folder in dirs:
        if os.access(os.path.join(folder, name), os.X_OK):
            return os.path.join(folder, name)
    found = shutil.which(name)
    if found is None:
        raise ServiceUnavailable(f"{name} not found; install Debian's {package!r} package "
                                 "(.ci/services.sh does)")
    return found


def _listening(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def _spawn(args: list[str], log: Path, env: dict[str, str] | None = None) -> subprocess.Popen:
    with open(log, "ab") as out:
        return subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT, env=env,
                                stdin=subprocess.DEVNULL, start_new_session=True)


def _stopper(procs: list[subprocess.Popen], base: Path) -> Callable[[], None]:
    def stop() -> None:
        for proc in procs:
            if proc.poll() is None:
                try:
                    os.killpg(proc.pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
        for proc in procs:
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        shutil.rmtree(base, ignore_errors=True)

    return stop


def _wait(ready: Callable[[], bool], procs: list[subprocess.Popen], base: Path, what: str,
          log: Path, timeout: float) -> Callable[[], None]:
    """Wait until *ready*; return the stop callable, or stop and raise with the log's tail."""
    stop = _stopper(procs, base)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if ready():
            return stop
        if any(proc.poll() is not None for proc in procs):
            break
        time.sleep(0.1)
    tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
    stop()
    raise RuntimeError(f"{what} did not start within {timeout:.0f} s:\n{tail}")


@dataclass(frozen=True)
class Memcached:
    """memcached on loopback."""

    host: str
    port: int


def start_memcached() -> tuple[Memcached, Callable[[], None]]:
    """memcached on 127.0.0.1 on a free port (64 MB, UDP off)."""
    binary = _binary("memcached", "memcached", "/usr/bin")
    base = Path(tempfile.mkdtemp(prefix="patchkit-memcached-"))
    port = free_port()
    user = ["-u", "root"] if os.geteuid() == 0 else []  # memcached refuses root without it
    proc = _spawn([binary, "-l", "127.0.0.1", "-p", str(port), "-U", "0", "-m", "64", *user],
                  base / "log")
    stop = _wait(lambda: _listening(port), [proc], base, "memcached", base / "log", 20)
    return Memcached("127.0.0.1", port), stop


@dataclass(frozen=True)
class MariaDB:
    """A MariaDB server: ``root`` without a password, on a unix socket and loopback TCP."""

    socket: str
    host: str
    port: int


def start_mariadb() -> tuple[MariaDB, Callable[[], None]]:
    """Initialise a data dir with mariadb-install-db and start mariadbd on it."""
    server = _binary("mariadbd", "mariadb-server", "/usr/sbin")
    install = _binary("mariadb-install-db", "mariadb-server", "/usr/bin")
    base = Path(tempfile.mkdtemp(prefix="patchkit-mariadb-"))
    user = ["--user=root"] if os.geteuid() == 0 else []
    setup = subprocess.run([install, "--no-defaults", f"--datadir={base / 'data'}", *user,
                            "--auth-root-authentication-method=normal", "--skip-test-db"],
                           capture_output=True, text=True, timeout=120)
    if setup.returncode != 0:
        shutil.rmtree(base, ignore_errors=True)
        raise RuntimeError(f"mariadb-install-db failed:\n{setup.stdout}\n{setup.stderr}")
    port, sock = free_port(), str(base / "mysqld.sock")
    proc = _spawn([server, "--no-defaults", f"--datadir={base / 'data'}", f"--socket={sock}",
                   "--bind-address=127.0.0.1", f"--port={port}", *user,
                   "--innodb-buffer-pool-size=16M", "--skip-log-bin",
                   f"--pid-file={base / 'mysqld.pid'}", f"--log-error={base / 'log'}"],
                  base / "out")
    stop = _wait(lambda: os.path.exists(sock) and _listening(port), [proc], base, "mariadbd",
                 base / "log", 60)
    return MariaDB(sock, "127.0.0.1", port), stop


@dataclass(frozen=True)
class RabbitMQ:
    """A RabbitMQ node on loopback; ``url`` logs in as guest."""

    host: str
    port: int

    @property
    def url(self) -> str:
        return f"amqp://guest:guest@{self.host}:{self.port}//"


def start_rabbitmq() -> tuple[RabbitMQ, Callable[[], None]]:
    """A RabbitMQ node (no plugins) with its own epmd; takes ~5-10 s to boot."""
    server = _binary("rabbitmq-server", "rabbitmq-server", "/usr/lib/rabbitmq/bin")
    epmd = _binary("epmd", "erlang-base (rabbitmq-server's dependency)", "/usr/bin")
    base = Path(tempfile.mkdtemp(prefix="patchkit-rabbitmq-"))
    port, dist, mapper = free_port(), free_port(), free_port()
    (base / "enabled_plugins").write_text("[].\n")
    (base / "rabbitmq.conf").write_text(f"listeners.tcp.default = 127.0.0.1:{port}\n")
    env = {**os.environ, "HOME": str(base), "RABBITMQ_MNESIA_BASE": str(base / "mnesia"),
           "RABBITMQ_LOG_BASE": str(base / "logs"), "RABBITMQ_NODENAME": f"pk{port}@localhost",
           "RABBITMQ_NODE_PORT": str(port), "RABBITMQ_DIST_PORT": str(dist),
           "ERL_EPMD_PORT": str(mapper), "RABBITMQ_LOGS": "-",
           "RABBITMQ_ENABLED_PLUGINS_FILE": str(base / "enabled_plugins"),
           "RABBITMQ_CONFIG_FILE": str(base / "rabbitmq.conf"),
           "RABBITMQ_CONF_ENV_FILE": str(base / "rabbitmq-env.conf"),
           "RABBITMQ_PID_FILE": str(base / "pid")}
    mapper_proc = _spawn([epmd, "-port", str(mapper)], base / "epmd.log")
    proc = _spawn([server], base / "log", env)
    stop = _wait(lambda: _listening(port), [proc, mapper_proc], base, "rabbitmq-server",
                 base / "log", 90)
    return RabbitMQ("127.0.0.1", port), stop


@dataclass(frozen=True)
class Slapd:
    """OpenLDAP's slapd on loopback with one mdb database (``dc=patchkit,dc=test``)."""

    url: str
    base: str
    bind_dn: str
    password: str


_SLAPD_CONF = """\
include /etc/ldap/schema/core.schema
modulepath /usr/lib/ldap
moduleload back_mdb
pidfile {base}/slapd.pid
database mdb
maxsize 10485760
suffix "dc=patchkit,dc=test"
rootdn "cn=admin,dc=patchkit,dc=test"
rootpw secret
directory {base}/db
"""

_SLAPD_LDIF = """\
dn: dc=patchkit,dc=test
objectClass: dcObject
objectClass: organization
o: patchkit
dc: patchkit

dn: cn=reader,dc=patchkit,dc=test
objectClass: person
cn: reader
sn: reader
"""


def start_slapd() -> tuple[Slapd, Callable[[], None]]:
    """slapd from a slapd.conf in a temp dir, loaded with two entries by slapadd."""
    server = _binary("slapd", "slapd", "/usr/sbin")
    add = _binary("slapadd", "slapd", "/usr/sbin")
    base = Path(tempfile.mkdtemp(prefix="patchkit-slapd-"))
    (base / "db").mkdir()
    conf = base / "slapd.conf"
    conf.write_text(_SLAPD_CONF.format(base=base))
    (base / "data.ldif").write_text(_SLAPD_LDIF)
    loaded = subprocess.run([add, "-f", str(conf), "-l", str(base / "data.ldif")],
                            capture_output=True, text=True, timeout=60)
    if loaded.returncode != 0:
        shutil.rmtree(base, ignore_errors=True)
        raise RuntimeError(f"slapadd failed:\n{loaded.stdout}\n{loaded.stderr}")
    port = free_port()
    url = f"ldap://127.0.0.1:{port}/"
    proc = _spawn([server, "-d", "0", "-f", str(conf), "-h", url], base / "log")
    stop = _wait(lambda: _listening(port), [proc], base, "slapd", base / "log", 30)
    return Slapd(url, "dc=patchkit,dc=test", "cn=admin,dc=patchkit,dc=test", "secret"), stop


@dataclass(frozen=True)
class Sshd:
    """OpenSSH's sshd on loopback accepting one key for the current user."""

    host: str
    port: int
    user: str
    key_file: str


def start_sshd() -> tuple[Sshd, Callable[[], None]]:
    """sshd -D on a free port with a temp host key and an authorized client key."""
    server = _binary("sshd", "openssh-server", "/usr/sbin")
    keygen = _binary("ssh-keygen", "openssh-client", "/usr/bin")
    base = Path(tempfile.mkdtemp(prefix="patchkit-sshd-"))
    for name in ("host_key", "client_key"):
        subprocess.run([keygen, "-q", "-t", "ed25519", "-N", "", "-f", str(base / name)],
                       check=True, capture_output=True, timeout=30)
    shutil.copy(base / "client_key.pub", base / "authorized_keys")
    port = free_port()
    (base / "sshd_config").write_text(
        f"Port {port}\nListenAddress 127.0.0.1\nHostKey {base / 'host_key'}\n"
        f"AuthorizedKeysFile {base / 'authorized_keys'}\nPidFile {base / 'sshd.pid'}\n"
        "UsePAM no\nStrictModes no\nPermitRootLogin prohibit-password\n"
        "PasswordAuthentication no\nKbdInteractiveAuthentication no\n"
        "UseDNS no\nPrintMotd no\nPrintLastLog no\n")
    if os.geteuid() == 0:
        # sshd's privilege-separation directory; the package's service unit makes it at boot.
        os.makedirs("/run/sshd", mode=0o755, exist_ok=True)
    proc = _spawn([server, "-D", "-e", "-f", str(base / "sshd_config")], base / "log")
    stop = _wait(lambda: _listening(port), [proc], base, "sshd", base / "log", 30)
    import getpass

    return Sshd("127.0.0.1", port, getpass.getuser(), str(base / "client_key")), stop


@dataclass(frozen=True)
class Moto:
    """moto's S3-compatible server on loopback (credentials are anything)."""

    endpoint: str


def start_moto() -> tuple[Moto, Callable[[], None]]:
    """``python -m moto.server`` (PyPI's moto[server]) on a free port."""
    import importlib.util

    if importlib.util.find_spec("moto") is None or importlib.util.find_spec("flask") is None:
        raise ServiceUnavailable("moto's server is not installed (pip install -e . --group test "
                                 "installs moto[server])")
    base = Path(tempfile.mkdtemp(prefix="patchkit-moto-"))
    port = free_port()
    proc = _spawn([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                  base / "log")
    stop = _wait(lambda: _listening(port), [proc], base, "moto server", base / "log", 60)
    return Moto(f"http://127.0.0.1:{port}"), stop


#: Environment variables each service is passed to an audit case in (audits/README.md).
ENVIRONMENT: dict[str, Callable[[object], dict[str, str]]] = {
    "memcached": lambda s: {"PATCHKIT_MEMCACHED": f"{s.host}:{s.port}"},  # type: ignore[attr-defined]
    "mariadb": lambda s: {"PATCHKIT_MYSQL_SOCKET": s.socket,  # type: ignore[attr-defined]
                          "PATCHKIT_MYSQL_PORT": str(s.port)},  # type: ignore[attr-defined]
    "rabbitmq": lambda s: {"PATCHKIT_AMQP_URL": s.url},  # type: ignore[attr-defined]
    "slapd": lambda s: {"PATCHKIT_LDAP_URL": s.url,  # type: ignore[attr-defined]
                        "PATCHKIT_LDAP_BASE": s.base,  # type: ignore[attr-defined]
                        "PATCHKIT_LDAP_BIND": s.bind_dn,  # type: ignore[attr-defined]
                        "PATCHKIT_LDAP_PASSWORD": s.password},  # type: ignore[attr-defined]
    "sshd": lambda s: {"PATCHKIT_SSH": f"{s.user}@{s.host}:{s.port}",  # type: ignore[attr-defined]
                       "PATCHKIT_SSH_KEY": s.key_file},  # type: ignore[attr-defined]
    "moto": lambda s: {"PATCHKIT_S3_ENDPOINT": s.endpoint},  # type: ignore[attr-defined]
}


@pytest.fixture(scope="session")
def memcached() -> Iterator[Memcached]:
    """memcached on loopback for the whole session (per xdist worker)."""
    yield from _serve(start_memcached)


@pytest.fixture(scope="session")
def mariadb() -> Iterator[MariaDB]:
    """A MariaDB server for the whole session (per xdist worker)."""
    yield from _serve(start_mariadb)


@pytest.fixture(scope="session")
def rabbitmq() -> Iterator[RabbitMQ]:
    """A RabbitMQ node for the whole session (per xdist worker; ~5-10 s to boot)."""
    yield from _serve(start_rabbitmq)


@pytest.fixture(scope="session")
def slapd() -> Iterator[Slapd]:
    """OpenLDAP's slapd for the whole session (per xdist worker)."""
    yield from _serve(start_slapd)


@pytest.fixture(scope="session")
def sshd() -> Iterator[Sshd]:
    """OpenSSH's sshd for the whole session (per xdist worker)."""
    yield from _serve(start_sshd)


@pytest.fixture(scope="session")
def moto_server() -> Iterator[Moto]:
    """moto's S3 server for the whole session (per xdist worker)."""
    yield from _serve(start_moto)
