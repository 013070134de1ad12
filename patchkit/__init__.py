"""patchkit: make blocking code cooperative under gevent, then prove it.

``import patchkit; patchkit.patch_all()`` on a program's first line patches the
standard library through gevent, records every swap in a ledger, and can undo it.
``python -m patchkit.audit`` reports what still blocks the hub.
"""

# First, before anything slow: under ``python -m patchkit.audit`` its import notes stop
# signals until the audit can act on them; a no-op in any other process (see _early).
from . import _early  # noqa: F401  # isort: skip
import importlib as _importlib
import typing as _typing

from ._errors import LatePatchWarning as LatePatchWarning
from ._errors import PatchError as PatchError
from ._errors import PatchkitError as PatchkitError
from ._errors import PatchkitWarning as PatchkitWarning
from ._errors import RegistrationError as RegistrationError
from ._errors import RepatchWarning as RepatchWarning
from ._errors import UnknownPatcherError as UnknownPatcherError
from .ledger import MISSING as MISSING
from .ledger import Swap as Swap
from .registry import PatcherSpec as PatcherSpec
from .registry import Registry as _Registry
from .registry import Setting as Setting
from .registry import gevent_patch as gevent_patch

# The core is loaded on first use (PEP 562): it imports gevent, and pytest imports this
# package for the plugin's entry point in every run, --patchkit or not.
_CORE = frozenset({"PatchListener", "add_listener", "applied", "get_original", "is_patched",
                   "patch", "patch_all", "patched", "pending", "remove_listener",
                   "unpatch_all"})

if _typing.TYPE_CHECKING:
    from ._core import PatchListener as PatchListener
    from ._core import add_listener as add_listener
    from ._core import applied as applied
    from ._core import get_original as get_original
    from ._core import is_patched as is_patched
    from ._core import patch as patch
    from ._core import patch_all as patch_all
    from ._core import patched as patched
    from ._core import pending as pending
    from ._core import remove_listener as remove_listener
    from ._core import unpatch_all as unpatch_all


# These two share their names with submodules (imported above, which bound the names to
# the modules); defined after, the functions win.
def ledger() -> list[Swap]:
    """Every swap in force, oldest first, including those gevent.monkey made itself."""
    from ._core import ledger as current

    return current()


def registry() -> _Registry:
    """The process-wide registry of patchers (built-in and discovered)."""
    from ._core import registry as current

    return current()


def __getattr__(name: str) -> _typing.Any:
    if name not in _CORE:
        raise AttributeError(f"module 'patchkit' has no attribute {name!r}")
    value = getattr(_importlib.import_module("._core", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_CORE})


__version__ = "0.2.0"

__all__ = [
    "patch_all", "patch", "unpatch_all", "patched", "is_patched", "get_original", "ledger",
    "applied", "pending", "registry", "add_listener", "remove_listener", "PatchListener", "PatcherSpec",
    "Setting", "gevent_patch", "Swap", "MISSING", "PatchkitError", "RegistrationError",
    "UnknownPatcherError", "PatchError", "PatchkitWarning", "LatePatchWarning",
    "RepatchWarning", "__version__",
]
