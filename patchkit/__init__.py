"""patchkit: make blocking code cooperative under gevent, then prove it.

``import patchkit; patchkit.patch_all()`` on a program's first line patches the
standard library through gevent, records every swap in a ledger, and can undo it.
``python -m patchkit.audit`` reports what still blocks the hub.
"""

from __future__ import annotations

from ._core import PatchListener as PatchListener
from ._core import add_listener as add_listener
from ._core import applied as applied
from ._core import get_original as get_original
from ._core import is_patched as is_patched
from ._core import ledger as ledger
from ._core import patch as patch
from ._core import patch_all as patch_all
from ._core import patched as patched
from ._core import pending as pending
from ._core import registry as registry
from ._core import remove_listener as remove_listener
from ._core import unpatch_all as unpatch_all
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
from .registry import Setting as Setting
from .registry import gevent_patch as gevent_patch

__version__ = "0.1.0"

__all__ = [
    "patch_all", "patch", "unpatch_all", "patched", "is_patched", "get_original", "ledger",
    "applied", "pending", "registry", "add_listener", "remove_listener", "PatchListener", "PatcherSpec",
    "Setting", "gevent_patch", "Swap", "MISSING", "PatchkitError", "RegistrationError",
    "UnknownPatcherError", "PatchError", "PatchkitWarning", "LatePatchWarning",
    "RepatchWarning", "__version__",
]
