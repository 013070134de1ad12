"""The start-up hook trusts only the audit's own value of ``PATCHKIT_AUDIT_FOLLOW``: checked
cheaply before the follower is imported, numbers in range, the folder the audit made."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from patchkit._follow_hook import FollowError, parse

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def folder(tmp_path: Path) -> str:
    """A folder as the audit makes it: private, this user's, named for a pid."""
    return tempfile.mkdtemp(prefix=f"patchkit-audit-{os.getpid()}-", dir=tmp_path)


def _value(where: str, **changes: object) -> str:
    return json.dumps({"folder": where, "threshold": 0.02, "include": [], "exclude": [],
                       "flush_interval": 2.0, "exact": False, **changes})


def test_the_audits_own_value_is_accepted(folder: str) -> None:
    assert parse(_value(folder))["folder"] == folder


@pytest.mark.parametrize("changes, message", [
    ({"flush_interval": 0}, "flush_interval"), ({"threshold": "NaN"}, "threshold"),
    ({"threshold": 1e300}, "threshold"), ({"include": "app"}, "include"),
    ({"exact": "yes"}, "exact"), ({"folder": "relative/patchkit-audit-1-x"}, "absolute"),
    ({"folder": "/tmp"}, "not an audit's folder"),
])
def test_a_value_not_the_audits_is_refused(folder: str, changes: dict, message: str) -> None:
    text = _value(folder, **changes).replace('"NaN"', "NaN")
    with pytest.raises(FollowError, match=message):
        parse(text)


def test_a_folder_others_may_use_is_refused(folder: str, tmp_path: Path) -> None:
    os.chmod(folder, 0o755)
    with pytest.raises(FollowError, match="private"):
        parse(_value(folder))
    link = tmp_path / "patchkit-audit-1-link"
    link.symlink_to(tmp_path)
    with pytest.raises(FollowError, match="symlink"):
        parse(_value(str(link)))


@pytest.mark.parametrize("text", ["", "{", "[]", "null", "[" * 100_000, '{"folder": 1}'])
def test_garbage_is_refused_not_raised(text: str) -> None:
    with pytest.raises(FollowError):
        parse(text)


def _child(value: str, *flags: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PYTHONPATH=str(ROOT), PATCHKIT_AUDIT_FOLLOW=value)
    code = "import sys; print(sorted(m for m in sys.modules if m.startswith('patchkit')))"
    return subprocess.run([sys.executable, *flags, "-c", code], env=env, capture_output=True,
                          text=True, timeout=60)


def test_a_folder_the_audit_did_not_make_gets_nothing_written(tmp_path: Path) -> None:
    victim = tmp_path / "shared"
    victim.mkdir()
    proc = _child(_value(str(victim)))
    assert proc.returncode == 0 and proc.stderr == "", proc.stderr
    assert list(victim.iterdir()) == []
    assert "patchkit.audit.follow" not in proc.stdout  # refused before the follower loads


def test_a_bad_value_costs_no_follower_import_and_no_output(folder: str) -> None:
    proc = _child(_value(folder, flush_interval=0))  # would spin a CPU in every child
    assert proc.returncode == 0 and proc.stderr == "", proc.stderr
    assert "patchkit.audit.follow" not in proc.stdout


def test_a_valid_value_audits_the_child(folder: str) -> None:
    proc = _child(_value(folder))
    assert proc.returncode == 0, proc.stderr
    assert "patchkit.audit.follow" in proc.stdout
    parts = [json.loads(p.read_text()) for p in Path(folder).glob("*.json")]
    assert [p["process"]["role"] for p in parts] == ["spawn"], parts


def test_an_isolated_interpreter_is_not_followed(folder: str) -> None:
    env = dict(os.environ, PATCHKIT_AUDIT_FOLLOW=_value(folder))
    proc = subprocess.run([sys.executable, "-I", "-c", "print('ran')"], env=env,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0 and proc.stdout == "ran\n", proc.stderr
    assert list(Path(folder).iterdir()) == []


_JSON = st.recursive(st.none() | st.booleans() | st.floats() | st.integers()
                     | st.text(max_size=20),
                     lambda inner: st.lists(inner, max_size=4)
                     | st.dictionaries(st.text(max_size=15), inner, max_size=4), max_leaves=12)
_FIELDS = ["folder", "threshold", "include", "exclude", "flush_interval", "exact"]


@settings(max_examples=300, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(changes=st.dictionaries(st.sampled_from(_FIELDS), _JSON, max_size=3),
       drop=st.lists(st.sampled_from(_FIELDS), max_size=2), raw=st.text(max_size=40))
def test_fuzz_the_start_up_hooks_parser(folder: str, changes: dict, drop: list[str],
                                        raw: str) -> None:
    """Any value of PATCHKIT_AUDIT_FOLLOW: checked settings, or FollowError, nothing else."""
    data = json.loads(_value(folder))
    data.update(changes)
    for name in drop:
        data.pop(name, None)
    for text in (json.dumps(data), raw):
        try:
            checked = parse(text)
        except FollowError:
            continue
        assert checked["folder"] == folder
        assert 0.0001 <= checked["threshold"] <= 3600
        assert 0.01 <= checked["flush_interval"] <= 3600
