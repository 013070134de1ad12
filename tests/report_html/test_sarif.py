"""SARIF output: valid against the shipped 2.1.0 schema, one rule per kind, relative paths."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from patchkit.audit.sarif import RULES, to_sarif, write_sarif

from .conftest import ROOT, SCHEMA_FILE, synthetic_report


@pytest.fixture(scope="module")
def validator() -> jsonschema.Draft4Validator:
    schema = json.loads(SCHEMA_FILE.read_text())
    jsonschema.Draft4Validator.check_schema(schema)
    return jsonschema.Draft4Validator(schema)


def _valid(validator: jsonschema.Draft4Validator, log: dict[str, Any]) -> None:
    errors = sorted(validator.iter_errors(log), key=lambda e: list(e.path))
    assert not errors, "\n".join(f"{list(e.path)}: {e.message}" for e in errors[:5])


def test_schema_rejects_a_broken_log(validator):
    log = to_sarif(synthetic_report(2), str(ROOT))
    log["runs"][0]["results"][0]["locations"] = [{"physicalLocation": {"region": {
        "startLine": 0}}}]
    assert list(validator.iter_errors(log))


def test_findings_map_to_rules_results_and_code_flows(validator):
    report = synthetic_report(5)
    log = to_sarif(report, str(ROOT))
    _valid(validator, log)
    run = log["runs"][0]
    rules = run["tool"]["driver"]["rules"]
    assert [r["id"] for r in rules] == list(RULES)
    assert all("Fix:" in r["help"]["text"] for r in rules)
    results = run["results"]
    assert len(results) == len(report.findings)
    first, finding = results[0], report.findings[0]
    assert rules[first["ruleIndex"]]["id"] == first["ruleId"] == "blocking"
    location = first["locations"][0]["physicalLocation"]
    assert location["artifactLocation"] == {
        "uri": Path(finding.file).relative_to(ROOT).as_posix(), "uriBaseId": "%SRCROOT%"}
    assert location["region"] == {"startLine": finding.line}
    assert finding.fix in first["message"]["text"]
    steps = first["codeFlows"][0]["threadFlows"][0]["locations"]
    assert [s["location"]["physicalLocation"]["region"]["startLine"] for s in steps] == \
        [f.line for f in finding.stack]
    assert run["originalUriBaseIds"]["%SRCROOT%"]["uri"] == ROOT.as_uri() + "/"


def test_paths_outside_the_root_stay_absolute(validator, tmp_path):
    report = synthetic_report(1, root=tmp_path)
    log = to_sarif(report, str(ROOT))
    _valid(validator, log)
    uri = log["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["artifactLocation"]
    assert uri == {"uri": (tmp_path / "app" / "mod0.py").as_uri()}


def test_zero_findings(validator, tmp_path):
    path = tmp_path / "empty.sarif"
    write_sarif(synthetic_report(0), str(path), str(ROOT))
    log = json.loads(path.read_text())
    _valid(validator, log)
    assert log["runs"][0]["results"] == []
    assert sorted(p.name for p in tmp_path.iterdir()) == ["empty.sarif"]


def test_large_reports(validator):
    _valid(validator, to_sarif(synthetic_report(1_000), str(ROOT)))  # draft-4 checks are slow
    assert len(to_sarif(synthetic_report(10_000), str(ROOT))["runs"][0]["results"]) == 10_002


def test_bundled_example_is_valid_sarif(validator, example_reports):  # run from ROOT
    log = json.loads(example_reports["sarif"].read_text())
    _valid(validator, log)
    results = log["runs"][0]["results"]
    findings = json.loads(example_reports["json"].read_text())["findings"]
    assert [r["ruleId"] for r in results] == [f["kind"] for f in findings]
    assert {"blocking", "late-patch", "misbehavior", "stale-reference"} <= set(
        r["ruleId"] for r in results)
    pause = next(r for r in results if "time.sleep:" in r["message"]["text"]
                 and r["ruleId"] == "blocking")
    artifact = pause["locations"][0]["physicalLocation"]["artifactLocation"]
    assert artifact == {"uri": "examples/blocking_app/helpers.py", "uriBaseId": "%SRCROOT%"}
    flow = pause["codeFlows"][0]["threadFlows"][0]["locations"]
    assert [s["location"]["message"]["text"] for s in flow] == [
        "retry_job (__main__.py:36)", "pause (helpers.py:8)"]
