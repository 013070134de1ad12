"""The one-line message and the suggested fix for each finding.

Kept apart from aggregation so every output (terminal, JSON, pytest failure) says
the same thing, and so the wording can be read and changed in one place.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .detectors import Observation
from .detectors.events import AuditEvents, ImportRecord
from .detectors.imports import Attribution, known_packages
from .frames import Callee, FrameInfo

if TYPE_CHECKING:
    from .collect import EarlyImport

__all__ = ["Context", "advise"]

_THREADPOOL = "run it in gevent's threadpool: gevent.get_hub().threadpool.apply(func, args)"
_CPU = ("move this CPU work to gevent's threadpool (gevent.get_hub().threadpool.apply), "
        "or yield with gevent.sleep(0) inside the loop")
_NATIVE_LOCKS = ("_thread.lock.", "_thread.RLock.")


def _applied_patchers() -> frozenset[str]:
    core = sys.modules.get("patchkit._core")
    try:
        return frozenset(core.applied()) if core is not None else frozenset()
    except Exception:
        return frozenset()


@dataclass
class Context:
    """What advice needs beyond one observation.

    Attributes:
        stale: ``(module, name) -> original`` for every stale reference found.
        patchers: Names of the patchers registered with patchkit.
        imported: Known packages (see ``known_packages()``) the target imported, as seen
            by the post-import hooks.
        applied: Names of the patchers applied (default: ``patchkit.applied()`` now).
        imports: Modules imported before patching finished and their stacks (default:
            those the audit hook of this process recorded), to say why a module holding
            an original was imported early.
    """

    stale: dict[tuple[str, str], str] = field(default_factory=dict)
    patchers: frozenset[str] = frozenset()
    imported: frozenset[str] = frozenset()
    applied: frozenset[str] = field(default_factory=_applied_patchers)
    imports: list[ImportRecord] | None = None
    _early: dict[str, EarlyImport | None] = field(default_factory=dict, init=False,
                                                 repr=False)

    def early(self, module: str) -> EarlyImport | None:
        """Why *module* was imported before patching, when the program did not import it."""
        if module not in self._early:
            from .collect import early_import

            imports = self.imports if self.imports is not None else \
                AuditEvents.current_imports()
            self._early[module] = early_import(module, imports, Attribution()) \
                if imports else None
        return self._early[module]


def _known(callee: Callee | None, package: str | None, frame: FrameInfo | None,
           context: Context) -> str | None:
    candidates = [callee.home if callee else None, frame.module if frame else None, package]
    known = known_packages()
    for candidate in candidates:
        top = (candidate or "").partition(".")[0]
        if top in known and top in context.imported:
            return top
    return None


def _known_call(name: str | None) -> Any:
    """The knowledge base's entry for a standard-library call (``os.system``), if any."""
    from patchkit.knowledge import knowledge_base

    return knowledge_base().by_call(name.replace("_io.", "io.")) if name else None


def _known_fix(package: str, context: Context) -> str:
    """The knowledge base's fix (patchkit/knowledge/libraries.toml), else the detector's note."""
    from patchkit.knowledge import installed_version, lookup

    entry = lookup(package)
    known = entry.fix_for(installed_version(entry)) if entry else known_packages()[package]
    if package in context.applied:
        return (f"check that nothing undid what the patcher set (for psycopg2 the wait "
                "callback: psycopg2.extensions.get_wait_callback() must be patchkit's); "
                f"otherwise it is {package}'s own work on the hub's thread: {_THREADPOOL}"
                if package == "psycopg2" else
                f"it is {package}'s own work on the hub's thread, which its patcher does "
                f"not make cooperative: {_THREADPOOL}")
    if package in context.patchers:
        return (f"the {package} patcher was not applied: don't pass {package}=False to "
                f"patch_all() (or call patchkit.patch({package!r})); {known}")
    return known


def _special(obs: Observation, callee: Callee | None) -> tuple[str, str] | None:
    """Causes named by what was called, whatever else is true of it."""
    name = callee.name if callee else None
    if obs.detail.startswith("DNS"):
        return (f"original {name} resolved a name on the hub's thread",
                "let patch_all() patch socket and dns, and call socket.getaddrinfo through "
                "the socket module after patching")
    if obs.detail == "blocking connect":
        return ("a blocking, unpatched socket connected on the hub's thread",
                "create the socket after patch_all() through socket.socket (not a class "
                "captured before patching)")
    if name is not None and name.startswith(_NATIVE_LOCKS):
        lock = (callee.expr if callee and callee.expr else name).removesuffix(".__enter__")
        lock = lock.removesuffix(".acquire")
        return (f"a greenlet waited for {lock}, a lock created before patching (an "
                f"original {name.rpartition('.')[0]}), while a native thread held it: "
                "the wait blocks the hub",
                "create the lock after patch_all() (threading.Lock() is then gevent's); "
                "if a native thread must share it, wait for it in gevent's threadpool "
                f"(gevent.get_hub().threadpool.apply({lock}.acquire)) or hand work over "
                "with gevent.get_hub().loop.run_callback_threadsafe")
    return None


def _stale_fix(holder: str | None, original: str, context: Context) -> str:
    early = context.early(holder) if holder and holder != "__main__" else None
    if early is not None:
        return f"{early.why}; {early.fix}"
    if holder and holder != "__main__":
        return (f"import {holder} after patch_all(), or call {original} through its "
                "module at call time so the patched version runs")
    return f"look {original} up after patch_all() (call it through its module)"


def _blocking(obs: Observation, callee: Callee | None, package: str | None, cpu: bool,
              frame: FrameInfo | None, context: Context) -> tuple[str, str | None]:
    name = callee.name if callee else None
    special = _special(obs, callee)
    if special is not None:
        return special
    if obs.detail.startswith("spawned here"):
        if callee is not None and callee.original:
            return (f"a greenlet spawned here ran the original {name}, which blocks the hub",
                    f"spawn the patched {name} (look it up after patch_all())")
        what = f" ({name})" if name else ""
        return (f"a greenlet spawned here held the hub in a function with no Python frame{what}",
                f"spawn a cooperative function instead, or {_THREADPOOL}")
    holder = frame.module if frame else None
    root = (callee.expr or "").partition(".")[0] if callee else ""
    stale = context.stale.get((holder or "", root))
    call = _known_call(name) if not stale else None
    if call is not None:
        return (f"{name} waited on the hub's thread: gevent has no cooperative {name}, "
                "patched or not", call.fix)
    if callee is not None and (callee.original or stale):
        original = stale or name or "?"
        return (f"{root} is the original {original}, bound before patching; each call "
                "blocks the hub", _stale_fix(holder if stale else None, original, context))
    if callee is not None and callee.original_class:
        kind = name.rpartition(".")[0] if name else "object"
        return (f"an object of the original (unpatched) {kind} class blocked the hub",
                f"create it after patch_all() through {kind} (not a class captured before "
                "patching)")
    if obs.detail.startswith("in gevent's own cooperative code"):
        return ("the greenlet was inside gevent's own cooperative code, on its way to the hub, "
                "when its thread was kept from running: not a blocking call",
                "nothing to change at this line; if it recurs, look for a native thread "
                "computing while holding the GIL, or a machine short of CPUs")
    if cpu and callee is not None and name:
        return _computing(name, callee, obs.stack[-1].module if obs.stack else None)
    known = _known(callee, package, frame, context)
    if known is not None:
        applied = f" although the {known} patcher is applied" if known in context.applied \
            else ""
        return (f"a blocking call into {known} held the hub{applied}", _known_fix(known, context))
    if cpu or (callee is None and not obs.detail):
        return ("Python code ran without yielding to the hub", _CPU)
    if name:
        return (f"a call to {name} held the hub", f"make it cooperative or {_THREADPOOL}")
    return ("the hub was held without a switch; " + (obs.detail or "cause unknown"),
            f"find the blocking call in the stack; {_THREADPOOL}")


def _start_up(obs: Observation, frame: FrameInfo | None) -> tuple[str, str]:
    from .startup import FIRST_USE

    module = obs.module or "a module"
    if obs.detail == FIRST_USE:
        where = f" inside {frame.function}" if frame is not None else ""
        return (f"importing {module} held the hub once, on first use: the first request "
                "that reached this line paid for the import (start-up cost, not steady "
                "state)",
                f"import {module} at module level (at start-up) rather than{where}, so no "
                "request pays for it; for a pre-fork server, import it before the fork "
                "(gunicorn --preload)")
    return (f"importing {module} held the hub once, while the program started (start-up "
            "cost, not steady state)",
            f"nothing recurs: {module} is imported once. If start-up time matters, import "
            "it before the program starts serving, or before the fork of a pre-fork "
            "server (gunicorn --preload)")


# C functions that parse certificates: a new SSLContext (ssl.create_default_context(),
# urllib3 and requests make one per connection pool) parses the whole CA bundle.
_TLS_PARSING = ("load_verify_locations", "set_default_verify_paths", "load_default_certs",
                "create_default_context", "load_cert_chain")
_TLS_FIX = ("build the SSL context once and reuse it (every new context parses the CA bundle "
            "again while every other greenlet waits): urllib3.PoolManager(ssl_context=ctx), a "
            "requests HTTPAdapter whose init_poolmanager passes a prebuilt ssl_context, "
            "geventhttpclient's HTTPClient(ssl_context_factory=...) returning a shared context")


def _computing(name: str, callee: Callee, innermost: str | None) -> tuple[str, str]:
    """A block its thread's CPU time shows was computation inside *callee* (C code),
    called from the module *innermost*."""
    if any(part in name for part in _TLS_PARSING):
        return (f"{name} parsed certificates on the hub's thread (CPU work, not I/O)",
                _TLS_FIX)
    if name == "gc.collect":
        return ("an explicit gc.collect() collected garbage on the hub's thread: it walks "
                "every tracked object while every other greenlet waits (CPU work, not a wait)",
                "collect between requests or tests rather than inside them, or only the "
                "young generations (gc.collect(1)); gc.freeze() after start-up makes full "
                "collections skip the objects that live for the whole run")
    if "gevent" in ((callee.home or "").partition(".")[0], (innermost or "").partition(".")[0]):
        return (f"gevent's own cooperative {name} computed without yielding (CPU work, "
                "not a wait)", _CPU)
    entry = _known_call(name) or _entry_for((callee.home or "").partition(".")[0])
    fix = entry.fix if entry is not None else f"move this computation off the hub: {_THREADPOOL}"
    return (f"C code ({name}) computed on the hub's thread without yielding (CPU work, "
            "not I/O)", fix)


def _entry_for(module: str) -> Any:
    """The knowledge base's entry for the library that *module* belongs to, if any."""
    if not module:
        return None
    from patchkit.knowledge import lookup

    try:
        return lookup(module)
    except Exception:  # a malformed name must not cost the report
        return None


_MISBEHAVIOR = {
    "LoopExit": "a wait nothing will end (nothing else scheduled, no watcher): check for "
                "a greenlet waiting on itself or on a native thread that can't wake the hub",
    "BlockingSwitchOutError": "don't call blocking gevent APIs inside the hub (callbacks, "
                              "__del__, signal handlers); spawn a greenlet instead",
    "InvalidSwitchError": "a greenlet was resumed by something other than what it waited "
                          "for; don't switch() greenlets by hand",
    "ConcurrentObjectUseError": "give each greenlet its own connection, or guard it with a "
                                "gevent lock",
    "InvalidThreadUseError": "use gevent objects only on the thread (hub) that created them",
    "greenlet.error": "hand work across threads with gevent's threadpool or "
                      "hub.loop.run_callback_threadsafe, not by switching greenlets",
    "native": "start threads after patch_all() (or run with --patch) so they become greenlets",
}


def _stale_reference(obs: Observation, context: Context) -> tuple[str, str]:
    how = {"default": "as a default argument", "base class": "as a base class"}.get(
        obs.detail, "")
    message = (f"{obs.module}.{obs.name} holds the original {obs.original} {how}".rstrip()
               + ", captured before patching: calls through it block the hub")
    if obs.module == "__main__":
        return message, (f"call patchkit.patch_all() before binding {obs.name}, or refer "
                         f"to {obs.original} at call time")
    early = context.early(obs.module or "")
    if early is not None:
        return message, f"{early.why}; {early.fix}"
    return message, (f"import {obs.module} after patch_all(), or refer to {obs.original} "
                     "at call time")


def advise(obs: Observation, callee: Callee | None, package: str | None, cpu: bool,
           frame: FrameInfo | None, context: Context,
           inner: Callee | None = None) -> tuple[str, str | None]:
    """``(message, fix)`` for a finding first seen as *obs*.

    *inner* is what the innermost frame waited in when that is not what the reported
    line calls (the line calls ``lzma.compress``, which waits in a C method).
    """
    if obs.kind == "blocking":
        message, fix = _blocking(obs, callee, package, cpu, frame, context)
        if inner is not None and callee is not None and inner.name != callee.name:
            message += f" (waiting inside {inner.name})"
        return message, fix
    if obs.kind == "start-up":
        return _start_up(obs, frame)
    if obs.kind == "stale-reference":
        return _stale_reference(obs, context)
    if obs.kind == "late-patch":
        return (obs.detail, f"call patchkit.patch_all() before `import {obs.module}` "
                            "(the program's first line), or run with --patch")
    if obs.kind == "unpatched":
        return ("the program never patched: nothing it does is cooperative",
                "call patchkit.patch_all() on the program's first line, or run the audit "
                "with --patch")
    label = obs.detail.partition(" ")[0]
    return (obs.detail, _MISBEHAVIOR.get(label))
