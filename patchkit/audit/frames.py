"""Stacks as plain data, and the callee a frame is calling right now.

Frames are copied into :class:`FrameInfo` tuples at once so no frame (and none of
its locals) outlives the moment it was seen. The callee of a frame blocked in a C
call is read from the source span CPython records for the current instruction
(``co_positions``, 3.11+), so ``libc.usleep(200000)`` names ``libc.usleep`` even
though no Python frame exists for it; a frame entering a ``with`` block waits in the
context manager's ``__enter__`` (``with lock:`` names ``lock.__enter__``).
"""

from __future__ import annotations

import dis
import inspect
import io
import keyword
import linecache
import sys
import tokenize
import types
from dataclasses import dataclass
from typing import Any

__all__ = ["FrameInfo", "Stack", "Callee", "capture_stack", "call_expression", "resolve_callee",
           "bottom_of", "owner_of"]

_MISSING = object()
_BEFORE_WITH = dis.opmap.get("BEFORE_WITH", -1)


@dataclass(frozen=True, slots=True)
class FrameInfo:
    """One frame: file, line, function and the module name it ran in (for attribution)."""

    file: str
    line: int
    function: str
    module: str | None = None


Stack = tuple[FrameInfo, ...]
"""Outermost frame first, innermost last."""


@dataclass(frozen=True, slots=True)
class Callee:
    """What a frame was calling: a readable name and the module it comes from.

    ``original`` is true when the called object is an original that patching
    replaced (``time.sleep`` bound before ``patch_all()``); ``original_class`` when
    it is reached through an instance of a replaced class (an original socket).
    ``expr`` is the called expression as written (``sleep``, ``sock.recv``).
    """

    name: str
    home: str | None = None
    original: bool = False
    original_class: bool = False
    expr: str | None = None


def capture_stack(frame: types.FrameType | None, limit: int = 64) -> Stack:
    """Copy *frame* and its callers (at most *limit*, innermost kept) into a Stack."""
    out: list[FrameInfo] = []
    while frame is not None and len(out) < limit:
        code = frame.f_code
        namespace = frame.f_globals  # None on gevent's recorded spawning frames
        out.append(FrameInfo(code.co_filename, frame.f_lineno or code.co_firstlineno,
                             code.co_qualname, namespace.get("__name__") if namespace else None))
        frame = frame.f_back
    out.reverse()
    return tuple(out)


_EXPR_CACHE: dict[tuple[types.CodeType, int], str | None] = {}


def call_expression(frame: types.FrameType) -> str | None:
    """The called expression (``libc.usleep``) if *frame* is executing a call, else None.

    None also means the frame is running its own bytecode (CPU work), not waiting
    inside a callee.
    """
    code, lasti = frame.f_code, frame.f_lasti
    key = (code, lasti)
    if key not in _EXPR_CACHE:
        if len(_EXPR_CACHE) > 4096:
            _EXPR_CACHE.clear()
        _EXPR_CACHE[key] = _parse_call(code, lasti)
    return _EXPR_CACHE[key]


def _parse_call(code: types.CodeType, lasti: int) -> str | None:
    positions = list(code.co_positions())
    index = lasti // 2
    if not 0 <= index < len(positions):
        return None
    line, end_line, col, end_col = positions[index]
    if line is None or end_line is None or col is None or end_col is None:
        return None
    lines = [linecache.getline(code.co_filename, n) for n in range(line, end_line + 1)]
    if not lines or not lines[0]:
        return None
    lines[-1] = lines[-1].encode()[:end_col].decode(errors="replace")
    if lasti < len(code.co_code) and code.co_code[lasti] == _BEFORE_WITH:
        item = _with_item(code, lasti, positions, lines, col)
        return f"{item}.__enter__" if item is not None else None
    lines[0] = lines[0].encode()[col:].decode(errors="replace")
    return called_expression("".join(lines).strip())


_SKIPPED = frozenset({tokenize.NL, tokenize.NEWLINE, tokenize.COMMENT, tokenize.INDENT,
                      tokenize.DEDENT, tokenize.ENDMARKER})
_OPENING, _CLOSING = "([{", ")]}"


def called_expression(text: str) -> str | None:
    """The called expression of *text* when it is one call (``a.b(c)`` -> ``a.b``), else None.

    From tokens, not ``ast``: CPython 3.11's AST constructor keeps its recursion depth in
    per-interpreter state, so a parse on the sampler's thread, interleaved with one on
    the hub's thread, failed the other ("AST constructor recursion depth mismatch", seen
    as an INTERNALERROR in pytest's traceback formatting).
    """
    try:
        tokens = [t for t in tokenize.generate_tokens(io.StringIO(text).readline)
                  if t.type not in _SKIPPED]
    except (tokenize.TokenError, SyntaxError):
        return None
    if len(tokens) < 3 or tokens[-1].string != ")":
        return None
    depth, opening = 0, -1
    for index in range(len(tokens) - 1, -1, -1):
        token = tokens[index]
        if token.type == tokenize.OP and token.string in _CLOSING:
            depth += 1
        elif token.type == tokenize.OP and token.string in _OPENING:
            depth -= 1
            if depth == 0:
                opening = index
                break
    if opening <= 0 or tokens[opening].string != "(" or not _one_operand(tokens[:opening]):
        return None
    return " ".join(_text(text, tokens[0].start, tokens[opening - 1].end).split())


def _one_operand(tokens: list[tokenize.TokenInfo]) -> bool:
    """Whether *tokens* are one operand: names, literals and brackets joined by dots
    (``a.b``, ``f(x).g``, ``"s".join``), not ``a + b`` or ``not f``."""
    depth = 0
    for token in tokens:
        if token.type == tokenize.OP and token.string in _OPENING:
            depth += 1
        elif token.type == tokenize.OP and token.string in _CLOSING:
            depth -= 1
        elif depth == 0 and (token.type == tokenize.OP and token.string != "."
                             or token.type == tokenize.NAME and keyword.iskeyword(token.string)):
            return False
    return depth == 0


def _text(text: str, start: tuple[int, int], end: tuple[int, int]) -> str:
    lines = text.splitlines(keepends=True)
    begin = sum(len(line) for line in lines[:start[0] - 1]) + start[1]
    stop = sum(len(line) for line in lines[:end[0] - 1]) + end[1]
    return text[begin:stop]


def _with_item(code: types.CodeType, lasti: int, positions: list[Any], lines: list[str],
               col: int) -> str | None:
    """The context manager a ``BEFORE_WITH`` at *lasti* enters, as written.

    3.13 gives the instruction the item's own span; 3.11 and 3.12 the whole ``with``
    statement, whose items are entered in order (one ``BEFORE_WITH`` each). From tokens,
    not ``ast`` (see :func:`called_expression`).
    """
    text = lines[0].encode()[col:].decode(errors="replace") + "".join(lines[1:])
    try:
        tokens = [t for t in tokenize.generate_tokens(io.StringIO(text).readline)
                  if t.type not in _SKIPPED]
    except (tokenize.TokenError, SyntaxError):
        tokens = []
    if not tokens:
        return None
    if tokens[0].string != "with":
        return _item_text(text, tokens)
    items = _split_items(tokens[1:])
    if len(items) == 1 and items[0] and items[0][0].string == "(" \
            and items[0][-1].string == ")":
        inner = _split_items(items[0][1:-1] + [items[0][-1]], stop=")")
        if len(inner) > 1 or any(t.string == "as" for t in items[0]):
            items = inner
    earlier = sum(1 for offset in range(0, lasti, 2)
                  if code.co_code[offset] == _BEFORE_WITH
                  and positions[offset // 2] == positions[lasti // 2])
    return _item_text(text, items[earlier]) if earlier < len(items) else None


def _split_items(tokens: list[tokenize.TokenInfo],
                 stop: str = ":") -> list[list[tokenize.TokenInfo]]:
    """Top-level comma-separated groups of *tokens*, up to the top-level *stop*."""
    groups: list[list[tokenize.TokenInfo]] = [[]]
    depth = 0
    for token in tokens:
        if depth == 0 and token.string == stop:
            break
        if token.type == tokenize.OP and token.string in _OPENING:
            depth += 1
        elif token.type == tokenize.OP and token.string in _CLOSING:
            depth -= 1
        if depth == 0 and token.string == ",":
            groups.append([])
        else:
            groups[-1].append(token)
    return [g for g in groups if g]


def _item_text(text: str, tokens: list[tokenize.TokenInfo]) -> str | None:
    """The context expression of one ``with`` item (its ``as`` target left out)."""
    depth, end = 0, len(tokens)
    for index, token in enumerate(tokens):
        if token.type == tokenize.OP and token.string in _OPENING:
            depth += 1
        elif token.type == tokenize.OP and token.string in _CLOSING:
            depth -= 1
        elif depth == 0 and token.string in ("as", ":"):
            end = index
            break
    if end == 0:
        return None
    return " ".join(_text(text, tokens[0].start, tokens[end - 1].end).split())


def _lookup(frame: types.FrameType, name: str) -> Any:
    # Reading f_locals of a frame on another thread is safe while that thread waits in
    # C code; skip frames a debugger traces, where 3.11/3.12 write f_locals back.
    if frame.f_trace is None and frame.f_code.co_flags & 0x02:  # CO_NEWLOCALS
        try:
            value = frame.f_locals.get(name, _MISSING)
        except Exception:
            value = _MISSING
        if value is not _MISSING:
            return value
    value = frame.f_globals.get(name, _MISSING)
    if value is _MISSING:
        builtins = frame.f_builtins
        value = builtins.get(name, _MISSING)
    return value


def _home(obj: Any) -> tuple[str | None, str]:
    """The module *obj* comes from and a qualified label for it, without running its code."""
    kind = type(obj)  # type(), not isinstance(): a proxy's __class__ property would run code
    if issubclass(kind, types.ModuleType):
        return obj.__name__, obj.__name__
    if issubclass(kind, (types.FunctionType, types.BuiltinFunctionType, type)):
        module = obj.__module__ if type(obj.__module__) is str else None
        label = f"{module}.{obj.__qualname__}" if module else obj.__qualname__
        return module, label
    module = kind.__module__ if isinstance(kind.__module__, str) else None
    return module, f"{module}.{kind.__qualname__}" if module else kind.__qualname__


def resolve_callee(frame: types.FrameType, originals: frozenset[int] = frozenset()) -> Callee | None:
    """Name what *frame* is calling, resolving the first name to the object it is bound to.

    Only the root name is looked up (locals, globals, builtins); attributes after it
    are taken from the source text, so no property or ``__getattr__`` runs.
    *originals* holds ``id()`` of objects patching replaced.
    """
    expr = call_expression(frame)
    if expr is None:
        return None
    root, dot, rest = expr.partition(".")
    if not root.isidentifier():
        return Callee(expr, expr=expr)
    obj = _lookup(frame, root)
    if obj is _MISSING:
        return Callee(expr, expr=expr)
    try:
        home, label = _home(obj)
    except Exception:
        return Callee(expr, expr=expr)
    return Callee(f"{label}.{rest}" if dot else label, home, id(obj) in originals,
                  id(type(obj)) in originals, expr)


def current_frames() -> dict[int, types.FrameType]:
    """``sys._current_frames()``, kept behind one name for the one private API used."""
    return sys._current_frames()


def bottom_of(frame: types.FrameType) -> tuple[types.FrameType, types.FrameType | None]:
    """The bottom frame of *frame*'s stack and the one above it (None when it is alone)."""
    above: types.FrameType | None = None
    bottom = frame
    while bottom.f_back is not None:
        above, bottom = bottom, bottom.f_back
    return bottom, above


_RESUMABLE = inspect.CO_GENERATOR | inspect.CO_COROUTINE | inspect.CO_ASYNC_GENERATOR


def owner_of(bottom: types.FrameType, previous: object) -> object:
    """The greenlet a stack with *bottom* at its bottom belongs to: *bottom* itself --
    unless it is a generator's frame, which is never where a greenlet starts: caught
    while it is being resumed, its frame is briefly not linked to its caller's, and the
    sample belongs to the greenlet seen before (*previous*, when there is one)."""
    if bottom.f_code.co_flags & _RESUMABLE and previous is not None:
        return previous
    return bottom
