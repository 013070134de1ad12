"""Smoke test of the benchmark suite: ``python -m benchmarks --quick`` runs every case.

No timing is asserted (the machines are noisy); only that every case runs, prints its ratio
line and lands in the JSON results. It is one test of ~45 s (up to ~90 s beside a parallel
suite), so under ``pytest -n auto`` it occupies one worker while the others run the rest; it
carries ``xdist_group("benchmarks")`` (registered by pytest-xdist) so ``--dist loadgroup``
keeps it apart, and a 600 s subprocess timeout bounds it. Deselect it with
``-k "not benchmarks_quick"`` when iterating.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CASES = ("startup", "hotpath", "audit", "scale", "plugin", "static", "gunicorn", "monitor")

pytestmark = pytest.mark.xdist_group("benchmarks")


def test_quick_suite_runs_every_case(tmp_path: Path) -> None:
    results = tmp_path / "results.json"
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    env.pop("GEVENT_MONITOR_THREAD_ENABLE", None)
    proc = subprocess.run([sys.executable, "-m", "benchmarks", "--quick", "--json", str(results)],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, f"stdout:\n{proc.stdout[-4000:]}\nstderr:\n{proc.stderr[-4000:]}"
    for case in CASES:
        assert re.search(rf"^{case}: ratio \d+\.\d+ -- .+ vs .+", proc.stdout, re.M), (
            f"no ratio line for {case}:\n{proc.stdout[-4000:]}")
    data = json.loads(results.read_text())
    assert data["quick"] is True
    assert set(data["cases"]) == set(CASES)
    assert all("error" not in result for result in data["cases"].values())
