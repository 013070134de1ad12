"""The matrix's servers: a missing binary names its Debian package; a started one stops clean."""

from __future__ import annotations

import os

import pytest

import services_more


@pytest.mark.parametrize("start, package", [
    (services_more.start_memcached, "'memcached'"),
    (services_more.start_mariadb, "'mariadb-server'"),
    (services_more.start_rabbitmq, "'rabbitmq-server'"),
    (services_more.start_slapd, "'slapd'"),
    (services_more.start_sshd, "'openssh-server'"),
])
def test_missing_binaries_name_the_package(monkeypatch: pytest.MonkeyPatch, start,
                                           package: str) -> None:
    monkeypatch.setattr(services_more.shutil, "which", lambda name: None)
    monkeypatch.setattr(services_more.os, "access", lambda path, mode: False)
    with pytest.raises(services_more.ServiceUnavailable, match=package):
        start()


def test_memcached_starts_and_answers(memcached) -> None:
    import socket

    with socket.create_connection((memcached.host, memcached.port), timeout=5) as sock:
        sock.sendall(b"version\r\n")
        assert sock.recv(64).startswith(b"VERSION ")


def test_stop_kills_the_whole_process_group(tmp_path) -> None:
    proc = services_more._spawn(["sh", "-c", "sleep 30 & sleep 30"], tmp_path / "log")
    stop = services_more._stopper([proc], tmp_path / "gone")
    stop()
    with pytest.raises(ProcessLookupError):
        os.killpg(proc.pid, 0)  # no process of the group is left
