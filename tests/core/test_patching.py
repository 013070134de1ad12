"""patch_all and friends, each in a fresh interpreter (patching cannot be contained in-process)."""

from __future__ import annotations

import json

DUMP_GEVENT = """
import json, sys
from gevent import monkey
monkey.patch_all()
def name(v):
    return f"{getattr(v, '__module__', '?')}.{getattr(v, '__qualname__', type(v).__name__)}"
out = {f"{m}.{a}": name(getattr(sys.modules[m], a, "<removed>")) for m, d in monkey.saved.items()
       if not m.startswith("_gevent") for a in d}
print(json.dumps(out))
"""

DUMP_PATCHKIT = """
import json
import patchkit
patchkit.patch_all()
def name(v):
    return f"{getattr(v, '__module__', '?')}.{getattr(v, '__qualname__', type(v).__name__)}"
print(json.dumps({f"{s.module}.{s.attribute}": name("<removed>" if s.replacement is patchkit.MISSING else s.replacement)
                  for s in patchkit.ledger()}))
"""


def test_swaps_at_least_what_gevent_patch_all_swaps(run_py) -> None:
    gevent_swaps = json.loads(run_py(DUMP_GEVENT).stdout)
    ours = json.loads(run_py(DUMP_PATCHKIT).stdout)
    assert len(gevent_swaps) > 50
    missing = set(gevent_swaps) - set(ours)
    assert not missing, missing
    different = {k: (gevent_swaps[k], ours[k]) for k in gevent_swaps
                 if gevent_swaps[k] != ours[k] and not gevent_swaps[k].endswith("lock")}
    assert not different, different


def test_each_patcher_swaps_its_modules_with_gevent_objects(run_py) -> None:
    out = run_py("""
        import patchkit, socket, select, selectors, ssl, threading, time, queue, subprocess
        import gevent.socket, gevent.select, gevent.ssl, gevent.threading, gevent.queue
        import gevent.subprocess, gevent.os, gevent.signal, signal, os
        patchkit.patch_all()
        checks = {
            "socket": socket.socket is gevent.socket.socket,
            "dns": socket.getaddrinfo is gevent.socket.getaddrinfo,
            "select": select.select is gevent.select.select,
            "selectors": selectors.DefaultSelector.__module__ == "gevent.selectors",
            "ssl": ssl.SSLContext is gevent.ssl.SSLContext,
            "threading": threading.Lock is gevent.threading.Lock,
            "time": time.sleep is gevent.sleep,
            "queue": queue.Queue is gevent.queue.Queue,
            "subprocess": subprocess.Popen is gevent.subprocess.Popen,
            "os": os.waitpid is gevent.os.waitpid,
            "signal": signal.signal is gevent.signal.signal,
            "epoll removed": not hasattr(select, "epoll"),
        }
        print([k for k, ok in checks.items() if not ok])
        print(sorted({s.patcher for s in patchkit.ledger()}))
    """).stdout.splitlines()
    assert out[0] == "[]"
    assert out[1] == str(sorted(["os", "threading", "time", "socket", "dns", "select", "ssl",
                                 "subprocess", "signal", "queue"]))


def test_seed_example_runs_unchanged_with_patch_all(run_cmd, tmp_path) -> None:
    from conftest import ROOT
    proc = run_cmd(str(ROOT / "examples" / "gevent_tutorial.py"))
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[:6] == ["func1 running", "func2 running", "func3  running", "func3 done..",
                         "switch func2", "switch func1"]
    assert "socket.socket is <class 'gevent._socket3.socket'>" in lines
    assert any(line.startswith("select.select is <function select") and "gevent" in line
               for line in lines)


def test_plain_blocking_calls_become_concurrent(run_py) -> None:
    out = run_py("""
        import patchkit; patchkit.patch_all()
        import time, threading, gevent
        t0 = time.perf_counter()
        gevent.joinall([gevent.spawn(time.sleep, 0.1) for _ in range(200)])
        greenlets = time.perf_counter() - t0
        t0 = time.perf_counter()
        threads = [threading.Thread(target=time.sleep, args=(0.1,)) for _ in range(50)]
        for t in threads: t.start()
        for t in threads: t.join()
        print(greenlets, time.perf_counter() - t0)
    """).stdout.split()
    greenlets, threads = map(float, out)
    # Serially these would take 20 s and 5 s; generous bounds for a loaded CI machine.
    assert 0.1 <= greenlets < 1.0
    assert 0.1 <= threads < 1.0


def test_flags_skip_patchers_and_aliases_work(run_py) -> None:
    out = run_py("""
        import patchkit, socket, ssl, threading, time
        patchkit.patch_all(ssl=False, thread=False)
        print(patchkit.is_patched("ssl"), patchkit.is_patched("threading"),
              patchkit.is_patched("socket"), patchkit.is_patched("time"))
        print(patchkit.applied())
    """).stdout.splitlines()
    assert out[0] == "False False True True"
    assert "ssl" not in out[1] and "threading" not in out[1]


def test_second_call_is_harmless_and_different_flags_patch_the_union(run_py) -> None:
    proc = run_py("""
        import warnings, patchkit
        warnings.simplefilter("error")
        first = patchkit.patch_all(ssl=False)
        again = patchkit.patch_all(ssl=False)
        print(len(first) > 0, again)
        warnings.simplefilter("always")
        union = patchkit.patch_all()
        print(sorted({s.patcher for s in union}), patchkit.is_patched("ssl"))
    """)
    lines = proc.stdout.splitlines()
    assert lines[0] == "True []"
    assert lines[1] == "['ssl'] True"
    assert "RepatchWarning" in proc.stderr and "newly patched: ssl" in proc.stderr


def test_patch_applies_only_named_patchers(run_py) -> None:
    out = run_py("""
        import patchkit
        patchkit.patch("time", "socket")
        print(patchkit.applied(), patchkit.is_patched("select"))
    """).stdout.strip()
    assert out == "['time', 'socket'] False"


def test_unpatch_all_restores_every_original_by_identity_and_exits_cleanly(run_py) -> None:
    proc = run_py("""
        import sys, patchkit, gevent.monkey
        patchkit.patch_all()
        records = patchkit.ledger()
        undone = patchkit.unpatch_all()
        assert len(undone) == len(records), (len(undone), len(records))
        wrong = [(s.module, s.attribute) for s in records
                 if getattr(sys.modules[s.module], s.attribute, patchkit.MISSING) is not s.original]
        print("wrong:", wrong)
        print(patchkit.ledger(), [m for m in gevent.monkey.saved], patchkit.applied())
        # The process keeps working with the originals: native threads, sleep, subprocess.
        import threading, time, subprocess, socket, queue
        box = []
        t = threading.Thread(target=lambda: box.append(threading.get_ident()))
        t.start(); t.join()
        print(box[0] != threading.main_thread().ident, threading.current_thread() is threading.main_thread())
        print(subprocess.run([sys.executable, "-c", "print(7)"], capture_output=True).stdout)
        a, b = socket.socketpair(); a.sendall(b"x"); print(b.recv(1), type(a).__module__)
        # ...and can be patched again.
        patchkit.patch_all()
        print(len(patchkit.ledger()) == len(records))
    """, timeout=60)
    assert proc.stdout.splitlines() == [
        "wrong: []", "[] [] []", "True True", "b'7\\n'", "b'x' socket", "True"]


def test_patched_context_manager_undoes_only_what_it_did(run_py) -> None:
    out = run_py("""
        import patchkit, socket, time
        original_sleep, original_socket = time.sleep, socket.socket
        patchkit.patch("time")
        with patchkit.patched("socket", "time") as swaps:
            print(socket.socket is not original_socket, sorted({s.patcher for s in swaps}))
        print(socket.socket is original_socket, time.sleep is not original_sleep)
        with patchkit.patched(ssl=False):
            print(patchkit.is_patched("select"), patchkit.is_patched("ssl"))
        print(patchkit.applied())
    """).stdout.splitlines()
    assert out == ["True ['socket']", "True True", "True False", "['time']"]


def test_gevent_records_agree_with_patchkit(run_py) -> None:
    out = run_py("""
        import patchkit
        from gevent import monkey
        patchkit.patch_all()
        records = patchkit.ledger()
        disagree = [(s.module, s.attribute) for s in records
                    if s.attribute in monkey.saved.get(s.module, {})
                    and monkey.get_original(s.module, s.attribute) is not patchkit.get_original(s.module, s.attribute)]
        print(disagree, all(monkey.is_module_patched(m) for m in {s.module for s in records}
                            if m in monkey.saved))
        print(monkey.is_module_patched("socket"), monkey.is_module_patched("time"))
        # A program (or server) that calls gevent's patch_all itself afterwards changes nothing.
        monkey.patch_all()
        print(len(patchkit.ledger()) == len(records))
    """).stdout.splitlines()
    assert out == ["[] True", "True True", "True"]


def test_direct_gevent_patch_all_is_seen_recorded_and_undone(run_py) -> None:
    out = run_py("""
        import patchkit, time
        class Listener:
            seen = []
            def did_patch(self, swaps): self.seen.append(len(swaps))
        patchkit.add_listener(Listener())
        original_sleep = time.sleep
        from gevent import monkey
        monkey.patch_all()
        print(sum(Listener.seen) > 50, patchkit.is_patched("socket"))
        print({s.patcher for s in patchkit.ledger()}, patchkit.get_original("time", "sleep") is original_sleep)
        patchkit.unpatch_all()
        import socket, threading
        print(time.sleep is original_sleep, socket.socket.__module__, monkey.is_module_patched("socket"))
        t = threading.Thread(target=print, args=("thread ok",)); t.start(); t.join()
    """).stdout.splitlines()
    assert out == ["True True", "{'gevent.monkey'} True", "True socket False", "thread ok"]


def test_failing_patcher_rolls_back_the_whole_call(run_py) -> None:
    out = run_py("""
        import socket, patchkit
        from patchkit import PatcherSpec
        def boom():
            import json; json.half_done = True
            raise OSError("disk on fire")
        patchkit.registry().register(PatcherSpec(name="boom", targets=("json",), apply=boom,
                                                 after=("ssl",)))
        original = socket.socket
        try:
            patchkit.patch_all(boom=True)
        except patchkit.PatchError as e:
            print(e)
        import json
        print(socket.socket is original, patchkit.ledger(), patchkit.applied(), hasattr(json, "half_done"))
    """).stdout.splitlines()
    assert out == ["patcher 'boom' failed and was rolled back: OSError: disk on fire",
                   "True [] [] False"]


def test_listeners_hear_will_did_and_unpatch(run_py) -> None:
    out = run_py("""
        import patchkit
        class L:
            def will_patch(self, names): print("will", names)
            def did_patch(self, swaps): print("did", len(swaps) > 0)
            def did_unpatch(self, swaps): print("undid", len(swaps) > 0)
        patchkit.add_listener(L())
        patchkit.patch("time")
        patchkit.unpatch_all()
    """).stdout.splitlines()
    assert out == ["will ('time',)", "did True", "undid True"]


def test_is_patched_and_get_original_take_a_module_or_its_name(run_py) -> None:
    out = run_py("""
        import socket, time
        import patchkit
        original_sleep = time.sleep
        print(patchkit.is_patched(time), patchkit.get_original(time, "sleep") is original_sleep)
        patchkit.patch_all()
        print(patchkit.is_patched(time), patchkit.is_patched("time"), patchkit.is_patched(socket))
        print(patchkit.get_original(time, "sleep") is original_sleep,
              patchkit.get_original(time, "sleep") is patchkit.get_original("time", "sleep"),
              time.sleep is not original_sleep)
        import json
        print(patchkit.is_patched(json), patchkit.get_original(json, "dumps") is json.dumps)
        try:
            patchkit.is_patched(42)
        except TypeError as exc:
            print("TypeError:", exc)
    """).stdout.splitlines()
    assert out == ["False True", "True True True", "True True True", "False True",
                   "TypeError: expected a module or a module name, not int"]
