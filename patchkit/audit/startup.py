"""Start-up is not steady state: hub blocks spent importing a module.

An import runs once per process. A block whose stack is inside the import machinery
(``<frozen importlib._bootstrap>`` frames under an ``import`` statement) is a one-time
cost -- at start-up, or on the first request that reaches a lazy import -- not one a
running service keeps paying for, and its fix is about where the import goes, not
about threadpools. Such a block becomes a ``start-up`` observation filed at the import
statement, with ``module`` set to what that statement imported.
"""

from __future__ import annotations

import ast
import linecache
from dataclasses import replace

from .detectors import Observation
from .detectors.imports import Attribution
from .frames import FrameInfo, Stack

__all__ = ["FIRST_USE", "AT_START", "ImportSite", "import_site", "as_start_up"]

AT_START = "at start-up"
FIRST_USE = "on first use"


class ImportSite:
    """The import statement a block happened under.

    Attributes:
        frame: The frame running the ``import`` statement.
        module: What the statement imported (``startup_heavy``), when known.
        when: :data:`AT_START` (module-level imports all the way out) or
            :data:`FIRST_USE` (a function of the program imports lazily).
    """

    __slots__ = ("frame", "module", "when")

    def __init__(self, frame: FrameInfo, module: str | None, when: str) -> None:
        self.frame, self.module, self.when = frame, module, when


def _is_importlib(frame: FrameInfo) -> bool:
    return frame.file.startswith("<frozen importlib._bootstrap")


def _statement_module(frame: FrameInfo, after: FrameInfo | None) -> str | None:
    """The module an import statement imports: from its source, else the module whose
    top-level code ran next in the stack."""
    text = linecache.getline(frame.file, frame.line).strip()
    try:
        node = ast.parse(text).body[0] if text else None
    except (SyntaxError, IndexError):
        node = None
    if isinstance(node, ast.Import):
        return node.names[0].name
    if isinstance(node, ast.ImportFrom):
        return "." * node.level + (node.module or "")
    return after.module if after is not None and after.function == "<module>" else None


def import_site(stack: Stack, attribution: Attribution) -> ImportSite | None:
    """Where *stack* is importing, or None when it is not inside an import.

    The site is the innermost import statement of the program's own code, else of a
    third-party package, else the innermost one at all (``importlib.import_module``).
    """
    statements = [i for i in range(len(stack) - 1)
                  if not _is_importlib(stack[i]) and _is_importlib(stack[i + 1])]
    if not statements:
        return None
    origins = {i: attribution.classify(stack[i])[0] for i in statements}
    for wanted in ("app", "third-party", None):
        chosen = [i for i in statements if wanted is None or origins[i] == wanted]
        if chosen:
            index = chosen[-1]
            break
    after = next((f for f in stack[index + 1:] if not _is_importlib(f)), None)
    lazy = any(origins[i] == "app" and stack[i].function != "<module>" for i in statements)
    return ImportSite(stack[index], _statement_module(stack[index], after),
                      FIRST_USE if lazy else AT_START)


def as_start_up(obs: Observation, attribution: Attribution) -> Observation:
    """*obs* as a ``start-up`` observation if it is a hub block spent importing, else *obs*."""
    if obs.kind != "blocking" or obs.site is not None or obs.detail.startswith("spawned"):
        return obs  # a spawned C function's stack is where it was spawned, not where it ran
    found = import_site(obs.stack, attribution)
    if found is None:
        return obs
    return replace(obs, kind="start-up", site=found.frame, module=found.module,
                   detail=found.when, callee=None, cpu=False)
