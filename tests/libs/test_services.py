"""The service fixtures skip when a binary is missing, unless CI requires the services."""

from __future__ import annotations

import pytest

import services


def test_missing_service_skips(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(services.REQUIRE_ENV, raising=False)
    with pytest.raises(pytest.skip.Exception, match="no such server"):
        services._unavailable(services.ServiceUnavailable("no such server"))


def test_missing_service_fails_when_required(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(services.REQUIRE_ENV, "1")
    with pytest.raises(pytest.fail.Exception, match="no such server.*PATCHKIT_REQUIRE_SERVICES"):
        services._unavailable(services.ServiceUnavailable("no such server"))


def test_missing_binaries_are_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(services.shutil, "which", lambda name: None)
    monkeypatch.setattr(services.glob, "glob", lambda pattern: [])
    with pytest.raises(services.ServiceUnavailable, match="PostgreSQL server binaries"):
        services.start_postgres()
    with pytest.raises(services.ServiceUnavailable, match="redis-server not found"):
        services.start_redis()
