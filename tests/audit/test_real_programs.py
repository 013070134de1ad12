"""False alarms found by auditing real programs (issue 12, "Right on real programs" and
"Start-up is not steady state"): each test failed before its fix.

Real parts only: PostgreSQL (psycopg2), Celery 5 with kombu, gunicorn, and small
programs that do what those services do.
"""

from __future__ import annotations

import json

import pytest

from services import free_port

from .conftest import only


def _dump(findings):
    return json.dumps(findings, indent=1)


def test_late_library_patcher_keeps_gevent_threads_and_knows_it_was_applied(audit, postgres):
    run = audit("--threshold", "0.01", "late_patcher.py", postgres.dsn)
    assert run.returncode == 0, run.stderr
    assert run.stdout.split("\n")[:2] == ["('',)", "('',)"]
    findings = run.findings()
    # gevent's resolver thread (its threadpool) is gevent's own, not the program's.
    assert not [f for f in findings if "native thread" in f["message"]], _dump(findings)
    # The cooperative query is not reported; the one after set_wait_callback(None) is,
    # and the advice knows the patcher *was* applied.
    assert not [f for f in findings if f["line"] == 23], _dump(findings)
    block = only(run.findings("blocking"), line=33)
    assert block["callee"] == "psycopg2.extensions.cursor.execute"
    assert "not applied" not in block["fix"], block
    assert "the psycopg2 patcher is applied" in block["message"]
    assert "get_wait_callback" in block["fix"]
    # Importing psycopg2 (if long enough to report) is start-up, not steady blocking.
    for finding in findings:
        if finding["line"] == 15 and finding["file"].endswith("late_patcher.py"):
            assert finding["kind"] == "start-up", finding


def test_os_system_has_no_cooperative_version_and_the_fix_is_subprocess(audit):
    run = audit("os_system.py")
    assert run.returncode == 0, run.stderr
    block = only(run.findings("blocking"), line=12)
    assert block["callee"] == "os.system"
    assert "bound before patching" not in block["message"]
    assert "gevent has no cooperative os.system" in block["message"]
    assert "subprocess" in block["fix"] and "look os.system up" not in block["fix"]


def test_waiting_on_a_lock_created_before_patching_names_the_lock(audit):
    run = audit("prepatch_lock.py")
    assert run.returncode == 0, run.stderr
    block = only(run.findings("blocking"), line=31)
    assert "CPU" not in block["fix"] and "CPU" not in block["message"], block
    assert "shared_lock" in block["message"] and "before patching" in block["message"]
    assert block["callee"].startswith("_thread.lock")
    assert 0.1 <= block["max_s"] < 1.0


def test_callee_is_what_the_line_calls_and_stdlib_code_is_not_yours(audit):
    run = audit("stdlib_call.py")
    assert run.returncode == 0, run.stderr
    mine = only(run.findings("blocking"), function="pack")
    assert mine["line"] == 16 and mine["package"] is None
    # The line calls lzma.compress; the C method it waited in is named inside.
    assert mine["callee"] == "lzma.compress", mine
    assert "(waiting inside _lzma.LZMACompressor." in mine["message"]
    # A greenlet spawned on lzma.compress runs only standard-library code: not "your code".
    spawned = [f for f in run.findings("blocking") if f is not mine]
    assert spawned, _dump(run.findings())
    for finding in spawned:
        assert finding["package"] == "stdlib", finding


def test_module_target_names_the_distribution_and_its_main(audit):
    run = audit("-m", "gunicorn", "--check-config", "wsgi_app:app")
    assert run.returncode == 0, run.stderr
    finding = only(run.findings(), kind="unpatched")
    assert finding["file"].endswith("gunicorn/__main__.py"), finding
    assert finding["line"] == 1
    assert finding["package"] == "gunicorn"
    assert all(f["package"] != "__main__" for f in run.findings())


def test_celery_stale_sleep_says_why_kombu_was_imported_before_patching(audit, monkeypatch):
    # No broker listens there: the worker retries connecting through kombu's
    # retry_over_time, sleeping with the `sleep` kombu imported before time was patched.
    monkeypatch.setenv("BROKER", f"redis://127.0.0.1:{free_port()}/0")
    # 10 s: a loaded machine can take most of 5 s to start the worker before its first retry.
    run = audit("--duration", "10", "-m", "celery", "-A", "capp", "worker", "-P", "gevent",
                "-c", "2", "--loglevel=WARNING", timeout=90)
    assert run.report is not None, run.stderr
    stale = only(run.findings("stale-reference"), module="kombu.utils.functional", name="sleep")
    # (3.13's audit event for time.sleep also names kombu's other sleep call.)
    retries = [f for f in run.findings("blocking") if f["function"] == "retry_over_time"]
    assert retries, _dump(run.findings())
    for finding in (stale, *retries):
        fix = finding["fix"]
        assert "import kombu.utils.functional after patch_all()" not in fix, finding
        assert "lock scan" in fix and "celery" in fix, finding
        assert "python -m patchkit" in fix, finding
    assert all(f["package"] != "__main__" for f in run.findings())
    # The fix is true: patched before celery is imported, kombu's sleep is gevent's.
    patched = audit("--patch", "--duration", "5", "-m", "celery", "-A", "capp", "worker",
                    "-P", "gevent", "-c", "2", "--loglevel=WARNING", timeout=90)
    assert patched.report is not None, patched.stderr
    assert not [f for f in patched.findings() if f["package"] == "kombu"], \
        _dump(patched.findings())


def test_start_up_imports_are_apart_from_steady_blocking(audit):
    run = audit("startup_import.py")
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "served"
    at_start = only(run.findings("start-up"), line=20)
    assert at_start["module"] == "startup_heavy" and at_start["count"] == 1
    assert "import" in at_start["message"] and "CPU" not in at_start["fix"]
    lazy = only(run.findings("start-up"), line=24)
    assert lazy["module"] == "startup_lazy" and lazy["count"] == 1
    assert "first" in lazy["message"] and "module level" in lazy["fix"]
    # Every request pays for its CPU work (a loaded machine may hide one of the three).
    steady = [f for f in run.findings("blocking") if f["function"] == "handle"]
    assert steady and all(f["line"] in (28, 29) for f in steady), _dump(steady)
    assert sum(f["count"] for f in steady) >= 2, _dump(steady)
    assert all("CPU" in f["fix"] for f in steady)
    assert not [f for f in run.findings("blocking") if f["line"] in (20, 24)]
    assert "start-up" in run.stderr


@pytest.mark.parametrize("exact", [False, True])
def test_an_explicit_collection_is_computation_at_its_call(audit, exact):
    # The collector holds the GIL throughout: by loop turn no sample sees the block, and
    # the collector's own record of the gc.collect() call sites it.
    run = audit(*["--exact"] * exact, "explicit_gc.py")
    block = only(run.findings("blocking"))
    assert (block["line"], block["function"]) == (14, "clear_caches"), block
    assert block["callee"] == "gc.collect" and "CPU work, not a wait" in block["message"]
    # (by function: a clone's own folder may be named patchkit)
    assert not [f for f in block["stack"] if "GcPauses" in f["function"]], block["stack"]
