"""The harness survives what it exists to measure: hangs, crashes, and a real module.

Every test here runs the tests under study in subprocesses (the harness's bootstrap), so
nothing is patched in the pytest process.
"""

from __future__ import annotations

import os
import textwrap

import pytest

from patchkit.conformance import RunOptions, counts, run_all, run_column

SAMPLES = {
    "hang": """
        import threading, time, unittest

        def sleep_forever():
            time.sleep(3600)

        class Hangs(unittest.TestCase):
            def test_a_passes(self):
                pass

            def test_b_hangs_forever(self):
                # A sleeping timer keeps gevent's loop alive, so gevent cannot call it a
                # LoopExit: a hang as a patched program sees one.
                worker = threading.Thread(target=sleep_forever, name="stuck-worker")
                worker.start()
                worker.join()

            def test_c_after_the_hang(self):
                pass
    """,
    "crash": """
        import os, signal, unittest

        class Crashes(unittest.TestCase):
            def test_a_passes(self):
                pass

            def test_b_aborts(self):
                os.kill(os.getpid(), signal.SIGKILL)

            def test_c_after_the_crash(self):
                pass
    """,
    "dies_on_import": """
        import os
        os._exit(3)
    """,
}


@pytest.fixture(scope="module")
def samples(tmp_path_factory: pytest.TempPathFactory) -> RunOptions:
    """RunOptions whose PYTHONPATH holds the package ``pkconf_samples`` of SAMPLES."""
    root = tmp_path_factory.mktemp("samples")
    package = root / "pkconf_samples"
    package.mkdir()
    (package / "__init__.py").write_text("")
    for name, source in SAMPLES.items():
        (package / f"{name}.py").write_text(textwrap.dedent(source))
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(root), env.get("PYTHONPATH")]))
    return RunOptions(timeout=2.0, resources=(), env=env)


@pytest.mark.parametrize("column", ["unpatched", "gevent"])
def test_a_hanging_test_is_timed_out_with_its_stacks_and_the_run_moves_on(
        samples: RunOptions, column: str) -> None:
    run = run_column("pkconf_samples.hang", column, samples)  # type: ignore[arg-type]
    outcomes = {o.test_id.rsplit(".", 1)[1]: o for o in run.outcomes}
    assert outcomes["test_b_hangs_forever"].outcome == "hung"
    assert outcomes["test_a_passes"].outcome == "passed"
    assert outcomes["test_c_after_the_hang"].outcome == "passed"
    assert run.restarts == 1
    stacks = outcomes["test_b_hangs_forever"].stacks
    assert "test_b_hangs_forever" in stacks and "worker.join()" in stacks
    if column == "gevent":
        # gevent's run info: the greenlet tree, with the stuck worker's greenlet.
        assert "Greenlets" in stacks and "sleep_forever" in stacks


def test_a_crashing_subprocess_is_reported_and_the_rest_still_runs(samples: RunOptions) -> None:
    run = run_column("pkconf_samples.crash", "unpatched", samples)
    outcomes = {o.test_id.rsplit(".", 1)[1]: o for o in run.outcomes}
    assert outcomes["test_b_aborts"].outcome == "crashed"
    assert outcomes["test_b_aborts"].detail == "killed by SIGKILL"
    assert outcomes["test_c_after_the_crash"].outcome == "passed"
    assert counts(run)["run"] == 3


def test_a_subprocess_dying_before_any_test_is_a_problem_not_silence(
        samples: RunOptions) -> None:
    run = run_column("pkconf_samples.dies_on_import", "unpatched", samples)
    assert run.outcomes == []
    assert run.problems and "exit status 3" in run.problems[0]
    assert run.restarts == 0


def test_a_real_module_in_all_three_columns() -> None:
    runs = run_all(["test_select"], RunOptions(timeout=20.0, resources=()), jobs=2,
                   columns=("unpatched", "gevent", "patchkit"))
    cells = {run.column: counts(run) for run in runs}
    assert cells["unpatched"]["run"] == cells["unpatched"]["passed"] > 0
    for column in ("gevent", "patchkit"):
        assert cells[column]["run"] == cells["unpatched"]["run"]
        assert cells[column]["hung"] == cells[column]["crashed"] == 0
    assert cells["patchkit"]["passed"] >= cells["gevent"]["passed"]
