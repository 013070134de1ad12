"""The one-line message and the suggested fix for each finding.

Kept apart from aggregation so every output (terminal, JSON, pytest failure) says
the same thing, and so the wording can be read and changed in one place.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .detectors import Observation
from .detectors.imports import KNOWN_PACKAGES
from .frames import Callee, FrameInfo

__all__ = ["Context", "advise"]

_THREADPOOL = "run it in gevent's threadpool: gevent.get_hub().threadpool.apply(func, args)"
_CPU = ("move this CPU work to gevent's threadpool (gevent.get_hub().threadpool.apply), "
        "or yield with gevent.sleep(0) inside the loop")


@dataclass
class Context:
    """What advice needs beyond one observation.

    Attributes:
        stale: ``(module, name) -> original`` for every stale reference found.
        patchers: Names of the patchers registered with patchkit.
        imported: Known packages (see ``KNOWN_PACKAGES``) the target imported, as seen
            by the post-import hooks.
    """

    stale: dict[tuple[str, str], str] = field(default_factory=dict)
    patchers: frozenset[str] = frozenset()
    imported: frozenset[str] = frozenset()


def _known(callee: Callee | None, package: str | None, frame: FrameInfo | None,
           context: Context) -> str | None:
    candidates = [callee.home if callee else None, frame.module if frame else None, package]
    for candidate in candidates:
        top = (candidate or "").partition(".")[0]
        if top in KNOWN_PACKAGES and top in context.imported:
            return top
    return None


def _known_fix(package: str, context: Context) -> str:
    """The knowledge base's fix (patchkit/knowledge/libraries.toml), else the detector's note."""
    from patchkit.knowledge import fix_for

    known = fix_for(package) or KNOWN_PACKAGES[package]
    if package in context.patchers:
        return (f"the {package} patcher was not applied: don't pass {package}=False to "
                f"patch_all() (or call patchkit.patch({package!r})); {known}")
    return known


def _blocking(obs: Observation, callee: Callee | None, package: str | None, cpu: bool,
              frame: FrameInfo | None, context: Context) -> tuple[str, str | None]:
    name = callee.name if callee else None
    if obs.detail.startswith("DNS"):
        return (f"original {name} resolved a name on the hub's thread",
                "let patch_all() patch socket and dns, and call socket.getaddrinfo through "
                "the socket module after patching")
    if obs.detail == "blocking connect":
        return ("a blocking, unpatched socket connected on the hub's thread",
                "create the socket after patch_all() through socket.socket (not a class "
                "captured before patching)")
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
    if callee is not None and (callee.original or stale):
        original = stale or name
        if holder and holder != "__main__" and stale:
            fix = (f"import {holder} after patch_all(), or call {original} through its "
                   "module at call time so the patched version runs")
        else:
            fix = f"look {original} up after patch_all() (call it through its module)"
        return (f"{root} is the original {original}, bound before patching; each call "
                "blocks the hub", fix)
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
        return (f"a blocking call into {known} held the hub", _known_fix(known, context))
    if cpu or (callee is None and not obs.detail):
        return ("Python code ran without yielding to the hub", _CPU)
    if name:
        return (f"a call to {name} held the hub", f"make it cooperative or {_THREADPOOL}")
    return ("the hub was held without a switch; " + (obs.detail or "cause unknown"),
            f"find the blocking call in the stack; {_THREADPOOL}")


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
    if "gevent" in ((callee.home or "").partition(".")[0], (innermost or "").partition(".")[0]):
        return (f"gevent's own cooperative {name} computed without yielding (CPU work, "
                "not a wait)", _CPU)
    return (f"C code ({name}) computed on the hub's thread without yielding (CPU work, "
            "not I/O)", f"move this computation off the hub: {_THREADPOOL}")


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


def advise(obs: Observation, callee: Callee | None, package: str | None, cpu: bool,
           frame: FrameInfo | None, context: Context) -> tuple[str, str | None]:
    """``(message, fix)`` for a finding first seen as *obs*."""
    if obs.kind == "blocking":
        return _blocking(obs, callee, package, cpu, frame, context)
    if obs.kind == "stale-reference":
        how = {"default": "as a default argument", "base class": "as a base class"}.get(
            obs.detail, "")
        return (f"{obs.module}.{obs.name} holds the original {obs.original} {how}".rstrip()
                + ", captured before patching: calls through it block the hub",
                f"import {obs.module} after patch_all(), or refer to {obs.original} at call "
                "time" if obs.module != "__main__" else
                f"call patchkit.patch_all() before binding {obs.name}, or refer to "
                f"{obs.original} at call time")
    if obs.kind == "late-patch":
        return (obs.detail, f"call patchkit.patch_all() before `import {obs.module}` "
                            "(the program's first line), or run with --patch")
    if obs.kind == "unpatched":
        return ("the program never patched: nothing it does is cooperative",
                "call patchkit.patch_all() on the program's first line, or run the audit "
                "with --patch")
    label = obs.detail.partition(" ")[0]
    return (obs.detail, _MISBEHAVIOR.get(label))
