"""Registry validation, ordering and discovery (in-process: nothing here patches)."""

from __future__ import annotations

import re

import pytest

import patchkit
from patchkit import PatcherSpec, RegistrationError, UnknownPatcherError
from patchkit.registry import Registry


def _noop() -> None:
    return None


def spec(name: str, after: tuple[str, ...] = (), **kw: object) -> PatcherSpec:
    return PatcherSpec(name=name, targets=("json",), apply=_noop, after=after, **kw)  # type: ignore[arg-type]


def test_builtin_order_matches_gevent_patch_all() -> None:
    names = patchkit.registry().names()
    assert names[:10] == ["os", "threading", "time", "socket", "dns", "select", "ssl",
                          "subprocess", "signal", "queue"]
    assert names.index("threading") < names.index("time")


def test_every_stdlib_patcher_declares_targets_source_and_gevent_flag() -> None:
    for s in patchkit.registry().ordered():
        if s.on_import is not None:  # library patchers
            continue
        assert s.targets and s.source and s.source.startswith("gevent."), s
        assert s.gevent_flag, s


def test_sorts_by_after_not_registration_order() -> None:
    reg = Registry()
    reg.register(spec("c", after=("b",)))
    reg.register(spec("a"))
    reg.register(spec("b", after=("a",)))
    assert reg.names() == ["a", "b", "c"]


@pytest.mark.parametrize("bad, reason", [
    (lambda: spec("not valid"), "identifier"),
    (lambda: spec("class"), "identifier"),
    (lambda: PatcherSpec(name="x", targets=(), apply=_noop), "targets"),
    (lambda: PatcherSpec(name="x", targets=("a b",), apply=_noop), "targets"),
    (lambda: PatcherSpec(name="x", targets=("json",), apply=42), "callable"),  # type: ignore[arg-type]
    (lambda: spec("x", after=("x",)), "after itself"),
    (lambda: spec("x", source="no such"), "source"),
])
def test_invalid_declarations_name_patcher_and_reason(bad, reason: str) -> None:
    with pytest.raises(RegistrationError, match=reason) as info:
        Registry().register(bad())
    assert "patcher" in str(info.value)


def test_duplicate_name_or_alias_is_rejected() -> None:
    reg = Registry()
    reg.register(spec("a", aliases=("alpha",)))
    with pytest.raises(RegistrationError, match="'a'.*already used"):
        reg.register(spec("a"))
    with pytest.raises(RegistrationError, match="'alpha' is already used by patcher 'a'"):
        reg.register(spec("b", aliases=("alpha",)))


def test_cycle_is_rejected_and_leaves_registry_unchanged() -> None:
    reg = Registry()
    reg.register(spec("a", after=("b",)))
    with pytest.raises(RegistrationError, match=r"cycle \(b -> a -> b\)"):
        reg.register(spec("b", after=("a",)))
    assert "b" not in reg
    with pytest.raises(RegistrationError, match="must come after 'b', which is not registered"):
        reg.ordered()


def test_not_a_spec_is_rejected() -> None:
    with pytest.raises(RegistrationError, match="expected a patchkit.PatcherSpec"):
        Registry().register({"name": "x"})  # type: ignore[arg-type]


def test_unknown_name_lists_known_ones() -> None:
    with pytest.raises(UnknownPatcherError) as info:
        patchkit.registry().resolve("sockets")
    message = str(info.value)
    assert "'sockets'" in message and "socket" in message and "threading" in message
    assert isinstance(info.value, TypeError)


def test_alias_resolves() -> None:
    assert patchkit.registry().resolve("thread").name == "threading"


def test_unknown_flag_to_patch_all_is_an_error_before_anything_is_patched() -> None:
    before = patchkit.applied()  # [] -- unless pytest --patchkit patched this process
    with pytest.raises(UnknownPatcherError, match="'sockets'.*known patchers: os, threading"):
        patchkit.patch_all(sockets=False)
    assert patchkit.applied() == before


def _make_dist(root, name: str, module_source: str, entry: str) -> None:
    (root / f"{name}.py").write_text(module_source)
    info = root / f"{name}-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(f"[patchkit.patchers]\n{entry}\n")


def test_external_patcher_is_discovered_through_entry_points(tmp_path, run_py) -> None:
    _make_dist(tmp_path, "extpatch", """
import json
from patchkit import PatcherSpec
def _apply():
    json.patched_by_ext = True
PATCHER = PatcherSpec(name="extjson", targets=("json",), apply=_apply, after=("socket",))
""", "extjson = extpatch:PATCHER")
    out = run_py(f"""
        import sys; sys.path.insert(0, {str(tmp_path)!r})
        import patchkit, json
        patchkit.patch_all(extjson=True)
        print(patchkit.registry().names().index("extjson") > patchkit.registry().names().index("socket"))
        print([ (s.module, s.attribute, s.patcher) for s in patchkit.ledger() if s.patcher == "extjson"])
        patchkit.unpatch_all()
        print(hasattr(json, "patched_by_ext"))
    """).stdout.splitlines()
    assert out == ["True", "[('json', 'patched_by_ext', 'extjson')]", "False"]


def test_broken_entry_point_names_it(tmp_path, run_py) -> None:
    _make_dist(tmp_path, "badpatch", "PATCHER = 42\n", "bad = badpatch:PATCHER")
    proc = run_py(f"""
        import sys; sys.path.insert(0, {str(tmp_path)!r})
        import patchkit
        try:
            patchkit.patch_all()
        except patchkit.RegistrationError as e:
            print("ERR", e)
        print(patchkit.applied())
    """)
    assert re.search(r"ERR entry point 'bad' \(badpatch:PATCHER\) must name a patchkit.PatcherSpec",
                     proc.stdout)
    assert proc.stdout.splitlines()[-1] == "[]"
