"""The service fixtures skip when a binary is missing, unless CI requires the services."""

from __future__ import annotations

from pathlib import Path

import pytest

import services


def test_missing_service_skips(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(services.REQUIRE_ENV, raising=False)
    with pytest.raises(pytest.skip.Exception, match="^unavailable here: no such server"):
        services._unavailable(services.ServiceUnavailable("no such server"))


def test_unavailable_skips_are_logged_for_dev_py(pytester: pytest.Pytester, tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """dev.py's closing line counts the tests skipped as unavailable, from this log alone."""
    log = tmp_path / "unavailable.tsv"
    tests = Path(__file__).resolve().parents[1]
    pytester.makeconftest((tests / "conftest.py").read_text())
    pytester.syspathinsert(tests)
    pytester.makepyfile(test_x="""
        import pytest
        from services import unavailable

        def test_no_server():
            unavailable("no such server\\n(second line)")

        def test_other_skip():
            pytest.skip("not today")
    """)
    monkeypatch.setenv("PATCHKIT_UNAVAILABLE_LOG", str(log))
    monkeypatch.delenv(services.REQUIRE_ENV, raising=False)
    pytester.runpytest("-p", "no:cacheprovider").assert_outcomes(skipped=2)
    assert log.read_text() == "test_x.py::test_no_server\tno such server (second line)\n"


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
