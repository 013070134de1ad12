"""Late patching is not silent: each situation gives a warning naming what is affected."""

from __future__ import annotations


def test_module_that_imported_originals_first_is_named(run_py, tmp_path) -> None:
    (tmp_path / "early_helper.py").write_text(
        "from time import sleep\nfrom socket import socket as Sock\n")
    proc = run_py("""
        import early_helper
        import patchkit
        patchkit.patch_all()
    """)
    assert "LatePatchWarning" in proc.stderr
    assert "early_helper (sleep = time.sleep, Sock = socket.socket)" in proc.stderr
    # The warning points at the user's patch_all() line, not into patchkit.
    assert "snippet.py:4" in proc.stderr


def test_ssl_imported_first_with_a_subclass_is_named(run_py, tmp_path) -> None:
    (tmp_path / "tls_helper.py").write_text(
        "import ssl\nclass Ctx(ssl.SSLContext):\n    pass\n")
    proc = run_py("""
        import tls_helper
        import patchkit
        patchkit.patch_all()
    """)
    assert "tls_helper (Ctx subclasses ssl.SSLContext)" in proc.stderr


def test_stdlib_internals_are_not_reported(run_py) -> None:
    proc = run_py("""
        import functools, reprlib, tempfile, logging, concurrent.futures, asyncio
        import patchkit
        patchkit.patch_all()
    """)
    assert "LatePatchWarning" not in proc.stderr, proc.stderr


def test_patching_after_threads_started_names_them(run_py) -> None:
    proc = run_py("""
        import threading
        stop = threading.Event()
        t = threading.Thread(target=stop.wait, name="early-poller", daemon=True)
        t.start()
        import patchkit
        patchkit.patch_all(thread=False)
        stop.set()
    """)
    assert "LatePatchWarning" in proc.stderr
    assert "early-poller" in proc.stderr and "stay native" in proc.stderr


def test_a_native_thread_and_the_main_one_can_both_start_hubs(run_py) -> None:
    # A thread started before patching gets its own hub at its first cooperative call;
    # creating a hub imports what gevent's settings name (pprint for format_context).
    # Done by two threads at once through import locks that patching made gevent locks,
    # those imports deadlocked (the bundled example hung about 1 run in 15 under load), so
    # patch_all resolves the settings first. Many rounds of the race, each must finish.
    proc = run_py("""
        import _thread, sys, threading, time
        seen = []

        class Note:  # notes whether import locks were still native when pprint came in
            def find_spec(self, name, path=None, target=None):
                if name == "pprint":
                    seen.append(type(_thread.allocate_lock).__name__)

        sys.meta_path.insert(0, Note())
        started, done = threading.Event(), threading.Event()

        def poll():
            started.set()
            while not done.is_set():
                time.sleep(0.001)   # gevent's sleep once patched: this thread's own hub

        t = threading.Thread(target=poll, daemon=True)
        t.start()
        started.wait()
        import patchkit
        patchkit.patch_all()
        assert seen == ["builtin_function_or_method"], seen   # before locks turned gevent's
        import gevent
        gevent.get_hub()                 # the main thread's hub, racing the thread's
        done.set()
        t.join(10)
        assert not t.is_alive()
        print("ok")
    """, timeout=30)
    assert proc.stdout.strip() == "ok", proc.stderr


def test_patching_off_the_main_thread_is_named(run_py) -> None:
    proc = run_py("""
        import threading, patchkit
        t = threading.Thread(target=patchkit.patch, args=("time",), name="late")
        t.start(); t.join()
    """)
    assert "off the main thread (in 'late')" in proc.stderr


def test_early_patch_is_silent(run_py) -> None:
    proc = run_py("""
        import patchkit
        patchkit.patch_all()
        import time, socket, threading
    """)
    assert "Warning" not in proc.stderr, proc.stderr
