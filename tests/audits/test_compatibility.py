"""The compatibility matrix: every entry has evidence or a reason, and the page is current.

docs/compatibility.md is rendered by ``audits/compatibility.py`` from the knowledge base
and audits/results.json (the last evidence run); the evidence itself is re-run by
test_audits.py on every test run.
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

from patchkit import knowledge

ROOT = Path(__file__).resolve().parents[2]
AUDITS = ROOT / "audits"


def _generator():
    spec = importlib.util.spec_from_file_location("compatibility", AUDITS / "compatibility.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_entry_has_evidence_or_a_stated_reason() -> None:
    libraries = knowledge.knowledge_base().libraries
    assert len(libraries) >= 40
    for entry in libraries:
        assert entry.evidence or entry.no_evidence, entry.key
        for case in entry.evidence:
            assert (AUDITS / case / "app.py").is_file(), f"{entry.key}: no audits/{case}"
            assert (AUDITS / case / "expected.toml").is_file(), f"{entry.key}: {case}"


def test_the_recorded_run_proved_every_entry() -> None:
    results = json.loads((AUDITS / "results.json").read_text())
    for entry in knowledge.knowledge_base().libraries:
        for case in entry.evidence:
            assert results["cases"].get(case, {}).get("outcome") == "passed", (entry.key, case)
    cases = {p.parent.name for p in AUDITS.glob("*/expected.toml")}
    assert set(results["cases"]) == cases, "re-run python audits/compatibility.py"


def test_the_page_is_what_the_generator_renders() -> None:
    results = json.loads((AUDITS / "results.json").read_text())
    page = (ROOT / "docs" / "compatibility.md").read_text()
    assert page == _generator().render(results), (
        "docs/compatibility.md is stale: run python audits/compatibility.py --render")


def test_the_page_counts_the_behaviours() -> None:
    results = json.loads((AUDITS / "results.json").read_text())
    page = _generator().render(results)
    libraries = knowledge.knowledge_base().libraries
    assert f"**{len(libraries)} libraries**" in page
    assert "needs a patcher" in page and "cannot be made cooperative" in page
    for category in {entry.category for entry in libraries}:
        assert f"\n## {category}\n" in page


def test_check_mode_passes_on_the_checked_in_page() -> None:
    proc = subprocess.run([sys.executable, str(AUDITS / "compatibility.py"), "--check"],
                          capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert proc.returncode == 0, proc.stderr
