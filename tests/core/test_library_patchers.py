"""Library patchers: applied when their library is imported (before or after patch_all),
recorded in the ledger (including non-attribute settings), undoable, switchable off by name."""

from __future__ import annotations

LIB = """
_state = {"callback": None}  # like a C driver's global: no module attribute changes
def get_callback():
    return _state["callback"]
def set_callback(cb):
    _state["callback"] = cb
def query():
    return "blocking" if _state["callback"] is None else _state["callback"]()
"""

PATCHER = """
import patchkit
from patchkit import PatcherSpec, Setting

def _get():
    import fakedriver
    return fakedriver.get_callback()

def _set(cb):
    import fakedriver
    fakedriver.set_callback(cb)

def green():
    return "cooperative"

def apply():
    _set(green)

patchkit.registry().register(PatcherSpec(
    name="fakedriver", targets=("fakedriver",), on_import="fakedriver", apply=apply,
    settings=(Setting("fakedriver", "callback", _get, _set),)))
"""


def test_applied_when_imported_after_patch_all_and_undone(run_py, tmp_path) -> None:
    (tmp_path / "fakedriver.py").write_text(LIB)
    (tmp_path / "fakepatch.py").write_text(PATCHER)
    out = run_py("""
        import fakepatch, patchkit
        patchkit.patch_all()
        print([n for n in patchkit.pending() if n == "fakedriver"], "fakedriver" in patchkit.applied())
        import fakedriver
        print(fakedriver.query(), patchkit.applied()[-1])
        print([(s.module, s.attribute, s.patcher) for s in patchkit.ledger() if s.patcher == "fakedriver"])
        patchkit.unpatch_all()
        print(fakedriver.query())
    """).stdout.splitlines()
    assert out == ["['fakedriver'] False", "cooperative fakedriver",
                   "[('fakedriver', 'callback', 'fakedriver')]", "blocking"]


def test_applied_at_once_when_already_imported(run_py, tmp_path) -> None:
    (tmp_path / "fakedriver.py").write_text(LIB)
    (tmp_path / "fakepatch.py").write_text(PATCHER)
    out = run_py("""
        import fakedriver, fakepatch, patchkit
        patchkit.patch_all()
        print(fakedriver.query(), "fakedriver" in patchkit.pending())
    """).stdout.splitlines()
    assert out == ["cooperative False"]


def test_switched_off_by_name(run_py, tmp_path) -> None:
    (tmp_path / "fakedriver.py").write_text(LIB)
    (tmp_path / "fakepatch.py").write_text(PATCHER)
    out = run_py("""
        import fakepatch, patchkit
        patchkit.patch_all(fakedriver=False)
        import fakedriver
        print(fakedriver.query(), "fakedriver" in patchkit.pending())
    """).stdout.splitlines()
    assert out == ["blocking False"]


def test_unpatched_before_import_never_applies(run_py, tmp_path) -> None:
    (tmp_path / "fakedriver.py").write_text(LIB)
    (tmp_path / "fakepatch.py").write_text(PATCHER)
    out = run_py("""
        import fakepatch, patchkit
        with patchkit.patched():
            pass
        import fakedriver
        print(fakedriver.query(), "fakedriver" in patchkit.pending(), patchkit.applied())
    """).stdout.splitlines()
    assert out == ["blocking False []"]


def test_waiting_for_a_library_does_not_import_wrapt(run_py, tmp_path) -> None:
    # wrapt imports ssl and asyncio; a patched program that never imports the library
    # must not pay for that (nor get those modules imported behind its back).
    (tmp_path / "fakedriver.py").write_text(LIB)
    (tmp_path / "fakepatch.py").write_text(PATCHER)
    out = run_py("""
        import sys, fakepatch, patchkit
        patchkit.patch_all()
        print("wrapt" in sys.modules, "asyncio" in sys.modules)
        import fakedriver
        print(fakedriver.query(), "wrapt" in sys.modules)
    """).stdout.splitlines()
    assert out == ["False False", "cooperative True"]
