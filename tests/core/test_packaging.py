"""The release's packaging, checked without the network: one version, the one the CHANGELOG
last released; no development tools in the published metadata; gevent's lower bound per
Python; and the start-up hook at the top of both wheels, the regular and the editable one."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.version import Version

import patchkit

ROOT = Path(__file__).resolve().parents[2]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
PTH = "patchkit_follow.pth"


def test_the_version_is_the_changelogs_latest_release() -> None:
    changelog = (ROOT / "CHANGELOG.md").read_text()
    headings = re.findall(r"^## (.+)$", changelog, re.MULTILINE)
    released = [h for h in headings if h != "Unreleased"]
    assert re.fullmatch(r"\d+\.\d+\.\d+ — \d{4}-\d{2}-\d{2}", released[0]), released[0]
    assert released[0].split()[0] == patchkit.__version__
    # The version is written once: setuptools reads it from patchkit/__init__.py.
    assert "version" not in PYPROJECT["project"] and "version" in PYPROJECT["project"]["dynamic"]
    assert "version" not in (ROOT / "setup.py").read_text()


def test_no_development_tools_in_the_published_metadata() -> None:
    extras = PYPROJECT["project"].get("optional-dependencies", {})
    assert not set(extras) & {"test", "tests", "dev", "lint", "bench", "docs"}, extras
    tools = {"pytest", "pytest-xdist", "ruff", "mypy"}
    for name, requirements in extras.items():
        assert not {Requirement(r).name for r in requirements} & tools, name
    groups = PYPROJECT["dependency-groups"]
    assert {"test", "test-native", "lint", "dev"} <= set(groups)
    assert {"include-group": "test"} in groups["dev"] and {"include-group": "lint"} in groups["dev"]


@pytest.mark.parametrize(("python", "too_old", "oldest"), [
    ("3.11", "24.2.0", "24.2.1"), ("3.12", "23.9.1", "24.2.1"), ("3.13", "24.2.1", "24.10.1")])
def test_gevent_is_bounded_per_python(python: str, too_old: str, oldest: str) -> None:
    """gevent 24.2.1 supports 3.11.8+/3.12.2+, 24.10.1 adds 3.13; 25.5.1 breaks forked children."""
    classifiers = PYPROJECT["project"]["classifiers"]
    assert f"Programming Language :: Python :: {python}" in classifiers
    env = {"python_version": python, "python_full_version": f"{python}.0"}
    gevent = [r for r in map(Requirement, PYPROJECT["project"]["dependencies"])
              if r.name == "gevent" and (r.marker is None or r.marker.evaluate(env))]
    assert len(gevent) == 1, gevent
    allowed = gevent[0].specifier
    assert Version(too_old) not in allowed and Version(oldest) in allowed
    assert Version("25.5.1") not in allowed


@pytest.fixture(scope="module")
def wheels(tmp_path_factory: pytest.TempPathFactory) -> dict[str, zipfile.ZipFile]:
    """The regular and the editable wheel, built from a copy of the project, offline."""
    setuptools = pytest.importorskip("setuptools")
    if Version(setuptools.__version__) < Version("77"):
        pytest.skip(f"setuptools {setuptools.__version__} is older than the build needs (77)")
    tmp = tmp_path_factory.mktemp("build")
    src, out = tmp / "src", tmp / "out"
    src.mkdir()
    for name in ("pyproject.toml", "setup.py", "MANIFEST.in", "README.md", "LICENSE", PTH):
        shutil.copy2(ROOT / name, src / name)
    shutil.copytree(ROOT / "patchkit", src / "patchkit",
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    code = ("from setuptools import build_meta as backend\n"
            f"backend.build_wheel({str(out)!r})\nbackend.build_editable({str(out)!r})\n")
    proc = subprocess.run([sys.executable, "-c", code], cwd=src, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    built = sorted(out.glob("*.whl"))
    assert len(built) == 2, built
    return {"editable" if ".editable" in w.name else "regular": zipfile.ZipFile(w) for w in built}


@pytest.mark.parametrize("kind", ["regular", "editable"])
def test_the_start_up_hook_is_at_the_wheels_root(wheels: dict[str, zipfile.ZipFile],
                                                  kind: str) -> None:
    wheel = wheels[kind]
    names = wheel.namelist()
    assert PTH in names, names
    assert wheel.read(PTH) == (ROOT / PTH).read_bytes()
    assert not [n for n in names if ".." in n.split("/")]
    dist_info = f"gevent_patchkit-{patchkit.__version__}.dist-info"
    record = wheel.read(f"{dist_info}/RECORD").decode()
    assert re.search(rf"^{re.escape(PTH)},sha256=[\w-]+,\d+$", record, re.MULTILINE), record
    metadata = wheel.read(f"{dist_info}/METADATA").decode()
    assert f"\nVersion: {patchkit.__version__}\n" in metadata
    assert re.findall(r"^Provides-Extra: (.+)$", metadata, re.MULTILINE) == ["monitor"]
