"""Exceptions and warnings raised by patchkit itself (never by the program it patches)."""

from __future__ import annotations

__all__ = [
    "PatchkitError",
    "RegistrationError",
    "UnknownPatcherError",
    "PatchError",
    "PatchkitWarning",
    "LatePatchWarning",
    "RepatchWarning",
]


class PatchkitError(Exception):
    """Base class of every error patchkit raises on its own account."""


class RegistrationError(PatchkitError, ValueError):
    """A patcher declaration is invalid; the message names the patcher and the reason."""


class UnknownPatcherError(PatchkitError, TypeError):
    """A patcher name given to ``patch_all``/``patch`` is not registered.

    Subclasses :class:`TypeError` because it plays the role of an unexpected
    keyword argument.
    """


class PatchError(PatchkitError, RuntimeError):
    """A patcher failed while applying; what that call had swapped was rolled back."""


class PatchkitWarning(UserWarning):
    """Base class of patchkit's warnings."""


class LatePatchWarning(PatchkitWarning):
    """Patching happened too late to be complete (threads running, originals captured, ...)."""


class RepatchWarning(PatchkitWarning):
    """``patch_all`` was called again with different flags; the union is patched."""
