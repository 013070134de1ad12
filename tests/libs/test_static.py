"""The native-extension scan on the real installed packages (and small built ones)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from importlib.metadata import distribution
from pathlib import Path

import pytest

from patchkit.static import ScanReport, scan
from patchkit.static.elf import read_elf

SITE = Path(distribution("psycopg2-binary").locate_file(""))


@pytest.fixture(scope="module")
def site_report() -> ScanReport:
    return scan([str(SITE)])


def _finding(report: ScanReport, name: str):
    return next(f for f in report.findings if f.distribution == name)


def test_psycopg2_links_its_bundled_libpq_and_is_patched(site_report: ScanReport) -> None:
    found = _finding(site_report, "psycopg2-binary")
    assert found.verdict == "patched" and found.patcher == "psycopg2"
    libpq = [c for c in found.client_libraries if c.name == "libpq"]
    assert libpq and all(c.bundled for c in libpq)
    assert any(c.file.startswith("psycopg2_binary.libs/libpq") for c in libpq)
    assert {"connect", "recv", "send"} <= set(found.symbols["network"])
    assert found.packages[0] == "psycopg2"


def test_grpc_cygrpc_imports_blocking_calls_and_is_patched(site_report: ScanReport) -> None:
    found = _finding(site_report, "grpcio")
    assert found.verdict == "patched" and found.patcher == "grpc"
    cygrpc = [f for f in found.files if f.path.startswith("grpc/_cython/cygrpc")]
    assert cygrpc and {"connect", "epoll_wait", "getaddrinfo"} <= set(cygrpc[0].symbols)


def test_pure_python_packages_produce_nothing(site_report: ScanReport) -> None:
    flagged = {f.distribution for f in site_report.findings}
    assert not flagged & {"requests", "urllib3", "redis", "pyelftools", "idna"}
    assert scan([str(SITE / "requests")]).findings == []


def test_report_counts_and_times_the_scan(site_report: ScanReport) -> None:
    summary = site_report.summary
    assert summary.distributions >= 20 and summary.with_native_code >= 3
    assert summary.parsed == summary.elf_files and summary.seconds > 0


def test_each_file_is_parsed_once() -> None:
    grpc = str(SITE / "grpc")
    report = scan([grpc, grpc])
    assert report.summary.elf_files == 2 * report.summary.parsed


def test_json_round_trips(site_report: ScanReport) -> None:
    data = json.loads(json.dumps(site_report.to_dict()))
    assert data["schema"] == "patchkit.static/1"
    assert ScanReport.from_dict(data).to_dict() == data
    with pytest.raises(ValueError, match="patchkit.static/1"):
        ScanReport.from_dict({"schema": "patchkit.audit/2"})


def test_cli_json_to_stdout_and_table_to_stderr(run_cmd) -> None:
    proc = run_cmd("-m", "patchkit.static", str(SITE / "psycopg2"), "--json", "-")
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert [f["verdict"] for f in data["findings"]] == ["patched"]
    assert "psycopg2" in proc.stderr and "scanned 1 distribution" in proc.stderr


def test_cli_writes_json_file_and_prints_timing(run_cmd, tmp_path: Path) -> None:
    out = tmp_path / "scan.json"
    proc = run_cmd("-m", "patchkit.static", str(SITE / "grpc"), "--json", str(out))
    assert proc.returncode == 0, proc.stderr
    assert json.loads(out.read_text())["findings"][0]["patcher"] == "grpc"
    assert re.search(r"scanned 1 distribution .* in \d+\.\d\d\s+s", proc.stdout, re.S)


@pytest.mark.parametrize("args, message", [
    (["/no/such/path"], "/no/such/path: no such file or directory"),
    (["/etc/hostname"], "/etc/hostname: not an ELF shared object"),
    (["--json", "/no/such/dir/out.json"], "folder /no/such/dir does not exist"),
    (["--frobnicate"], "unrecognized arguments"),
])
def test_bad_input_is_one_line_and_exit_2(run_cmd, args: list[str], message: str) -> None:
    proc = run_cmd("-m", "patchkit.static", *args)
    assert proc.returncode == 2
    assert message in proc.stderr and "Traceback" not in proc.stderr
    assert proc.stdout == ""


C_CALLS_CONNECT = """
#include <sys/socket.h>
int dial(int fd, const struct sockaddr *addr) { return connect(fd, addr, 16); }
"""
C_DEFINES_CONNECT = """
int connect(int fd, const void *addr, unsigned len) { return fd + len; }
int dial(int fd) { return connect(fd, 0, 16); }
"""


def _build(tmp_path: Path, name: str, source: str) -> Path:
    compiler = shutil.which("cc")
    if compiler is None:
        pytest.skip("no C compiler to build a test shared object")
    (tmp_path / f"{name}.c").write_text(source)
    target = tmp_path / "mystery" / f"{name}.so"
    target.parent.mkdir(exist_ok=True)
    subprocess.run([compiler, "-shared", "-fPIC", "-o", str(target), str(tmp_path / f"{name}.c")],
                   check=True, capture_output=True)
    return target


def test_only_imported_libc_calls_count(tmp_path: Path) -> None:
    with open(_build(tmp_path, "calls", C_CALLS_CONNECT), "rb") as stream:
        assert read_elf(stream).blocking == ("connect",)
    with open(_build(tmp_path, "defines", C_DEFINES_CONNECT), "rb") as stream:
        assert read_elf(stream).blocking == ()


def test_unknown_extension_is_flagged_and_strict_fails(run_cmd, tmp_path: Path) -> None:
    _build(tmp_path, "calls", C_CALLS_CONNECT)
    report = scan([str(tmp_path)])
    assert [(f.name, f.verdict) for f in report.findings] == [("mystery", "unknown")]
    assert run_cmd("-m", "patchkit.static", str(tmp_path)).returncode == 0
    assert run_cmd("-m", "patchkit.static", "--strict", str(tmp_path)).returncode == 1
