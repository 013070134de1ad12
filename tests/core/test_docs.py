"""The docs say what the code does: their tables and examples checked against the code.

The README's patcher table against the registry; the bundled example's report shown in
the README and docs/audit.md against a run of it; the JSON example in docs/audit.md
against what the audit writes and reads back, and against the field list documented
beside it; the option tables and lists against the commands' argparse parsers.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from conftest import ROOT, _env

README = ROOT / "README.md"
AUDIT_MD = ROOT / "docs" / "audit.md"
CONFORMANCE_MD = ROOT / "docs" / "conformance.md"

KINDS = ("blocking", "start-up", "stale-reference", "late-patch", "misbehavior", "unpatched",
         "loop-lag", "unaudited-process")
# A finding's first line in the terminal view: its kind, then its site when it has one.
FINDING_LINE = re.compile(r"^  (?P<kind>" + "|".join(map(re.escape, KINDS)) +
                          r")(?: +(?P<site>[^\s:]+:\d+))?(?=\s|$)")


def _section(path: Path, heading: str) -> str:
    """The text under *heading* (a whole ``#`` line) up to the next heading as high."""
    text = path.read_text()
    level = len(heading) - len(heading.lstrip("#"))
    start = text.index(f"\n{heading}\n") + len(heading) + 2
    following = re.search(rf"^#{{1,{level}}} ", text[start:], re.MULTILINE)
    return text[start:start + following.start()] if following else text[start:]


def _blocks(text: str, language: str) -> list[str]:
    """Every fenced code block of *language* in *text*."""
    return re.findall(rf"^```{language}\n(.*?)^```$", text, re.MULTILINE | re.DOTALL)


def _table(text: str) -> list[dict[str, str]]:
    """The first Markdown table in *text*, one dict per row, keyed by the header cells."""
    lines: list[str] = []
    for line in text.splitlines():
        if line.startswith("|"):
            lines.append(line)
        elif lines:
            break
    split = [[cell.strip() for cell in line.strip("|").split("|")] for line in lines]
    header, rows = split[0], split[2:]
    return [dict(zip(header, row)) for row in rows]


# -- the patcher table ------------------------------------------------------------------

def test_readme_patcher_table_is_the_registry() -> None:
    import patchkit
    from patchkit.patches import BUILTIN

    specs = [spec for spec in patchkit.registry().ordered() if spec.name in BUILTIN]
    rows = _table(_section(README, "### Patchers"))
    assert [re.findall(r"^`(\w+)`", row["name"])[0] for row in rows] == [
        spec.name for spec in specs]
    for row, spec in zip(rows, specs):
        where = f"README patcher table, row {spec.name}"
        assert re.findall(r"alias `(\w+)`", row["name"]) == list(spec.aliases), where
        assert re.findall(r"\w+", row["after"]) == list(spec.after), where
        text = " ".join(row.values())
        assert ("off by default" in text) == (not spec.default), where
        assert ("applied when" in text) == (spec.on_import is not None), where


def test_libraries_md_table_lists_the_library_patchers() -> None:
    """docs/libraries.md's table lists exactly the patchers that wait for their library."""
    import patchkit

    deferred = [spec.name for spec in patchkit.registry().ordered()
                if spec.on_import and spec.name != "execnet"]  # execnet: pytest-xdist's own
    rows = _table(_section(ROOT / "docs" / "libraries.md", "## Library patchers"))
    assert [row["name"].strip("`") for row in rows] == deferred


# -- the bundled example's report -------------------------------------------------------

@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The JSON report of ``python -m patchkit.audit -m examples.blocking_app``, run once."""
    report = tmp_path_factory.mktemp("demo") / "report.json"
    proc = subprocess.run([sys.executable, "-m", "patchkit.audit", "--json", str(report),
                           "-m", "examples.blocking_app"], cwd=ROOT, env=_env(),
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    data: dict[str, Any] = json.loads(report.read_text())
    return data


def _run_findings(report: dict[str, Any]) -> list[tuple[str, str | None]]:
    """(kind, site) of each finding, the site as the terminal view shows it."""
    found = []
    for finding in report["findings"]:
        site = None
        if finding["file"] is not None and finding["line"] is not None:
            # The project's folder is the run's (or, in the docs, a made-up user's).
            parts = Path(finding["file"]).parts
            where = Path(*parts[parts.index("examples"):]) if "examples" in parts \
                else Path(finding["file"])
            site = f"{where}:{finding['line']}"
        found.append((finding["kind"], site))
    return found


def _shown_findings(block: str) -> tuple[int, list[tuple[str, str | None]]]:
    """The ``N finding(s)`` count and (kind, site) of each finding a report shows."""
    count = re.search(r"^(\d+) finding\(s\), ", block, re.MULTILINE)
    assert count, block
    shown = [(m["kind"], m["site"]) for m in map(FINDING_LINE.match, block.splitlines()) if m]
    return int(count[1]), shown


def _check_shown(where: str, block: str, report: dict[str, Any]) -> None:
    count, shown = _shown_findings(block)
    ran = _run_findings(report)
    assert count == len(shown), f"{where}: says {count} finding(s), shows {len(shown)}"
    # The hub's loop lag is reported only when two of the example's blocks share a loop
    # turn, which depends on scheduling (tests/audit/test_example.py): a run may lack it.
    lag = ("loop-lag", None)
    if lag in shown and lag not in ran:
        shown.remove(lag)
    assert sorted(shown, key=str) == sorted(ran, key=str), where


def test_readme_shows_the_example_s_findings(demo: dict[str, Any]) -> None:
    section = _section(README, "## What the audit report looks like")
    block = _blocks(section, "")[0]
    assert block.startswith("patchkit audit: -m examples.blocking_app exited 0 after ")
    _check_shown("README.md", block, demo)


def test_audit_md_shows_the_example_s_findings(demo: dict[str, Any]) -> None:
    section = _section(AUDIT_MD, "## A real report: the bundled example")
    block = _blocks(section, "console")[0]
    assert block.startswith("$ python -m patchkit.audit --json report.json -m "
                            "examples.blocking_app\n")
    _check_shown("docs/audit.md", block, demo)
    example = json.loads(_blocks(section, "json")[0])
    assert sorted(_run_findings(example), key=str) == sorted(_shown_findings(block)[1],
                                                             key=str), "console and JSON differ"


# -- the JSON example -------------------------------------------------------------------

def _keys(data: Any, path: str = "") -> dict[str, list[str]]:
    """Each object's keys in *data*, by where it is (``findings[].stack[]``)."""
    found: dict[str, list[str]] = {}
    if isinstance(data, dict):
        found[path] = list(data)
        for key, value in data.items():
            for where, keys in _keys(value, f"{path}.{key}".lstrip(".")).items():
                found.setdefault(where, keys)
    elif isinstance(data, list):
        for item in data:
            for where, keys in _keys(item, f"{path}[]").items():
                found.setdefault(where, keys)
    return found


def _json_example() -> dict[str, Any]:
    section = _section(AUDIT_MD, "## A real report: the bundled example")
    data: dict[str, Any] = json.loads(_blocks(section, "json")[0])
    return data


def test_json_example_is_what_the_audit_writes_and_reads() -> None:
    from patchkit.model import SCHEMA
    from patchkit.audit.saved import report_from_dict

    example = _json_example()
    assert example["schema"] == SCHEMA
    # --render's loader reads it, and writing it back gives every field, in order.
    assert report_from_dict(example).to_dict() == example


def test_json_example_has_the_fields_of_a_real_report(demo: dict[str, Any]) -> None:
    assert _keys(_json_example()) == _keys(demo)


def test_json_field_list_names_every_field(demo: dict[str, Any]) -> None:
    """The ``text`` block under ``## JSON report`` lists the fields of a real report."""
    from patchkit.model import SCHEMA

    section = _section(AUDIT_MD, f"## JSON report, `{SCHEMA}`")
    listed = re.findall(r'"(\w+)":', _blocks(section, "text")[0])
    written = [key for keys in _keys(demo).values() for key in keys]
    assert sorted(set(listed)) == sorted(set(written))
    assert f'"schema": "{SCHEMA}"' in section
    assert f"schema `{SCHEMA}`" in README.read_text()


# -- options ----------------------------------------------------------------------------

def _options(parser: Any) -> set[str]:
    """Every long option of an argparse parser but --help."""
    return {option for action in parser._actions for option in action.option_strings
            if option.startswith("--") and option != "--help"}


def test_audit_options_table_is_the_parser() -> None:
    from patchkit.audit.__main__ import build_parser
    from patchkit.audit.config import DEFAULT_FLUSH, DEFAULT_GRACE, DEFAULT_THRESHOLD

    rows = _table(_section(AUDIT_MD, "## Options"))
    documented = {option for row in rows for option in re.findall(r"`(--[\w-]+)", row["option"])}
    assert documented == _options(build_parser())
    meaning = {re.findall(r"`(--[\w-]+)", row["option"])[0]: row["meaning"] for row in rows}
    for option, default in (("--threshold", DEFAULT_THRESHOLD), ("--grace", DEFAULT_GRACE),
                            ("--flush", DEFAULT_FLUSH)):
        assert f"default **{default:g}**" in meaning[option], option


def test_patchkit_options_are_in_the_readme() -> None:
    from patchkit.__main__ import build_parser

    text = README.read_text()
    options = {option for option in _options(build_parser("python -m patchkit"))
               if not option.startswith("--no-")}
    for option in options | {"--no-NAME"}:
        assert f"`{option}" in text or f" {option} " in text, option


def test_conformance_options_are_in_its_doc() -> None:
    from patchkit.conformance.__main__ import _parser

    text = CONFORMANCE_MD.read_text()
    missing = [option for option in sorted(_options(_parser())) if f"`{option}" not in text
               and f" {option} " not in text]
    assert missing == []


def test_list_output_matches_the_registry(run_cmd) -> None:
    import patchkit

    proc = run_cmd("-m", "patchkit", "--list")
    assert proc.returncode == 0, proc.stderr
    assert [line.split()[0] for line in proc.stdout.splitlines()] == [
        spec.name for spec in patchkit.registry().ordered()]
