"""How a report shows a value, in every format: control characters escaped, paths shortened.

A report may come from a saved file (``--render``), so every value from it is shown through
:func:`visible` in the terminal; the HTML and SARIF views shorten paths the same way.
"""

from __future__ import annotations

import os
import re

__all__ = ["visible", "short_path"]

_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def visible(value: object) -> str:
    """*value* as text a terminal shows as it is: every control character (C0, DEL, C1,
    line separators, bidirectional overrides) written as its ``\\xNN``/``\\uNNNN`` escape."""
    return _CONTROL.sub(_escape, str(value))


def short_path(path: str | None) -> str:
    """*path* as a report shows it: inside its distribution for an installed package, relative
    to the working directory when under it, else whole; ``?`` when unknown."""
    if not path:
        return "?"
    for marker in ("site-packages" + os.sep, "dist-packages" + os.sep):
        if marker in path:
            return path.split(marker, 1)[1]
    try:
        rel = os.path.relpath(path)
    except ValueError:
        return path
    return rel if not rel.startswith(".." + os.sep) else path
