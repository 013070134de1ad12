"""The public surface, in trio's manner (``trio/_tests/test_exports.py``): each public module's
``__all__`` is exactly what it promises, every name in it imports, and ``dir()`` shows nothing
public-looking that ``__all__`` leaves out (a helper imported into the facade, ``Any``,
``annotations``...). A submodule of the package may appear in ``dir()``: importing it binds it."""

from __future__ import annotations

import importlib
import subprocess
import sys
import types

import pytest

PUBLIC = {
    "patchkit": {
        "patch_all", "patch", "unpatch_all", "patched", "is_patched", "get_original", "ledger",
        "applied", "pending", "registry", "add_listener", "remove_listener", "PatchListener",
        "PatcherSpec", "Setting", "gevent_patch", "Swap", "MISSING", "PatchkitError",
        "RegistrationError", "UnknownPatcherError", "PatchError", "PatchkitWarning",
        "LatePatchWarning", "RepatchWarning", "__version__",
    },
    "patchkit.audit": {
        "Audit", "AuditConfig", "DEFAULT_THRESHOLD", "Finding", "Report", "SCHEMA",
        "StackFrame", "start",
    },
    "patchkit.monitor": {
        "ENV", "MonitorConfigError", "MonitorSettings", "parse", "start", "current",
        "from_environment",
    },
}


@pytest.mark.parametrize("modname", sorted(PUBLIC))
def test_all_is_exact(modname: str) -> None:
    module = importlib.import_module(modname)
    assert sorted(module.__all__) == sorted(PUBLIC[modname])
    assert len(module.__all__) == len(set(module.__all__)), "a name listed twice"


@pytest.mark.parametrize("modname", sorted(PUBLIC))
def test_every_name_imports(modname: str) -> None:
    module = importlib.import_module(modname)
    for name in module.__all__:
        assert getattr(module, name) is not None, name
    # and as a user writes it, in a fresh interpreter (lazy names resolve without help)
    names = ", ".join(sorted(module.__all__))
    proc = subprocess.run([sys.executable, "-c", f"from {modname} import {names}"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr


def _leaks(module: types.ModuleType) -> list[str]:
    def submodule(name: str) -> bool:
        value = getattr(module, name, None)
        return (isinstance(value, types.ModuleType)
                and value.__name__ == f"{module.__name__}.{name}")

    # (pytest rewrites the asserts of its plugins' distributions: its "@py_builtins" are not
    # names a user can write)
    return sorted(name for name in dir(module)
                  if name.isidentifier() and not name.startswith("_") and name not in module.__all__
                  and not submodule(name))


@pytest.mark.parametrize("modname", sorted(PUBLIC))
def test_nothing_private_leaks_into_dir(modname: str) -> None:
    module = importlib.import_module(modname)
    assert _leaks(module) == []
    # lazy names are listed before first use, so tab completion and help() see them
    assert set(module.__all__) <= set(dir(module))


def test_a_fresh_import_leaks_nothing() -> None:
    """In a fresh interpreter too, before anything else bound other names."""
    code = ("import sys, types; sys.path.insert(0, %r); from test_exports import _leaks\n"
            "import patchkit, patchkit.audit, patchkit.monitor\n"
            "print([_leaks(m) for m in (patchkit, patchkit.audit, patchkit.monitor)])")
    proc = subprocess.run([sys.executable, "-c", code % __file__.rsplit("/", 1)[0]],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[[], [], []]"
