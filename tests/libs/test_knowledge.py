"""The knowledge base: data checked on load, lookups by import and distribution name."""

from __future__ import annotations

import pytest

from patchkit import knowledge
from patchkit.knowledge import KnowledgeError, load, version_matches
from patchkit.patches import BUILTIN

REQUIRED = {  # the issue's list, with the import name each is known by
    "psycopg2": "psycopg2", "psycopg": "psycopg", "mysqlclient": "MySQLdb",
    "grpcio": "grpc", "confluent-kafka": "confluent_kafka", "pyzmq": "zmq",
    "cassandra-driver": "cassandra", "requests": "requests", "urllib3": "urllib3",
    "redis": "redis", "PyMySQL": "pymysql", "pymongo": "pymongo",
}


@pytest.mark.parametrize("dist, module", sorted(REQUIRED.items()))
def test_every_required_library_is_known_by_both_names(dist: str, module: str) -> None:
    entry = knowledge.by_distribution(dist)
    assert entry is not None and entry is knowledge.by_import(module)
    assert entry.fix and entry.source.startswith("https://")


def test_every_entry_is_complete_and_its_patcher_exists() -> None:
    for entry in knowledge.knowledge_base().libraries:
        assert entry.behaviour in knowledge.BEHAVIOURS
        assert entry.patcher is None or entry.patcher in BUILTIN, entry.key
        assert (entry.behaviour == "needs-patcher") == (entry.patcher is not None), entry.key


def test_behaviours_the_issue_states() -> None:
    kb = knowledge.knowledge_base()
    assert kb.lookup("psycopg2-binary").behaviour == "needs-patcher"
    assert kb.lookup("grpc").patcher == "grpc"
    assert kb.lookup("mysqlclient").behaviour == "unfixable"
    assert "PyMySQL" in knowledge.fix_for("MySQLdb")
    assert "zmq.green" in knowledge.fix_for("pyzmq")
    for pure in ("requests", "urllib3", "redis", "pymysql", "pymongo"):
        assert kb.lookup(pure).behaviour == "cooperative", pure


def test_psycopg3_blocks_only_before_3_1_14() -> None:
    entry = knowledge.lookup("psycopg")
    assert entry.behaviour_for("3.1.13") == "blocks-in-c"
    assert entry.behaviour_for("3.1.14") == entry.behaviour_for("3.2.1") == "cooperative"
    assert entry.behaviour_for(None) == "blocks-in-c"
    # Outside the range the fix is still to import it after patching (psycopg3_imported_early).
    assert knowledge.fix_for("psycopg-binary", "3.2.1").startswith("import psycopg after")
    assert "3.1.14" in knowledge.fix_for("psycopg", "3.1.2")
    assert knowledge.fix_for("requests", "2.0") == knowledge.lookup("requests").fix


def test_names_are_normalized() -> None:
    assert knowledge.lookup("PSYCOPG2_binary").key == "psycopg2"
    assert knowledge.lookup("psycopg2.extras").key == "psycopg2"
    assert knowledge.lookup("pymysql").key == knowledge.lookup("PyMySQL").key
    assert knowledge.lookup("no-such-library") is None
    assert knowledge.fix_for("no-such-library") is None


@pytest.mark.parametrize("soname, name", [("libpq.so.5", "libpq"),
                                          ("libpq-a17e3caa.so.5.17", "libpq"),
                                          ("/x/librdkafka.so.1", "librdkafka"),
                                          ("libzmq-1ab2c3d4.so.5", "libzmq"),
                                          ("libldap-2.5.so.0", "libldap"),
                                          ("libc.so.6", None), ("libpqxx.so", None)])
def test_native_libraries_match_renamed_copies(soname: str, name: str | None) -> None:
    found = knowledge.native_library(soname)
    assert (found.name if found else None) == name


@pytest.mark.parametrize("version, spec, expected", [
    ("3.1.13", "<3.1.14", True), ("3.1.14", "<3.1.14", False), ("3.2", ">=3.1,<4", True),
    ("2.9.13", "*", True), ("1.0", "==1", True), ("1.0.1", "!=1.0.1", False),
    ("3.1.14rc1", "<3.1.14", False),
])
def test_version_ranges(version: str, spec: str, expected: bool) -> None:
    assert version_matches(version, spec) is expected


_OK = 'category="c"\nno_evidence="r"\n'


@pytest.mark.parametrize("text, complaint", [
    ('[libraries.x]\nimports=["x"]\ndistributions=["x"]\naffected="*"\nbehaviour="slow"\n'
     'fix="f"\nsource="s"', "libraries.x: 'behaviour' is 'slow'"),
    ('[libraries.x]\nimports=[]\ndistributions=["x"]\naffected="*"\nbehaviour="cooperative"\n'
     'fix="f"\nsource="s"', "libraries.x: 'imports' must be a non-empty list"),
    ('[libraries.x]\nimports=["x"]\ndistributions=["x"]\naffected="~=1"\n'
     'behaviour="cooperative"\nfix="f"\nsource="s"', "libraries.x: 'affected'"),
    ('[libraries.x]\nimports=["x"]\ndistributions=["x"]\naffected="*"\n'
     'behaviour="needs-patcher"\nfix="f"\nsource="s"', "requires 'patcher'"),
    ('[libraries.x]\nimports=["x"]\ndistributions=["x"]\naffected="*"\nnative=["libfoo"]\n'
     'behaviour="blocks-in-c"\nfix="f"\nsource="s"', "no [native] entry"),
    ('[libraries.x]\nimports=["x"]\naffected="*"\nbehaviour="cooperative"\nfix="f"\n'
     'source="s"\ncategory="c"', "give 'evidence'"),
    ('[libraries.x]\nimports=["x"]\naffected="*"\nbehaviour="cooperative"\nfix="f"\n'
     'source="s"\nno_evidence="r"', "'category' must be"),
    ('[libraries.x]\nimports=["x"]\naffected="*"\nbehaviour="cooperative"\nfix="f"\n'
     'source="s"\ncategory="c"\nno_evidence="r"\ngil="sometimes"', "'gil' is 'sometimes'"),
    ('[libraries.x]\nimports=["x"]\naffected="*"\nbehaviour="cooperative"\nfix="f"\n'
     'source="s"\ncategory="c"\nno_evidence="r"\nevidance=["a"]', "unknown field"),
    ("[libraries.x", "not valid TOML"),
])
def test_malformed_entries_are_named(text: str, complaint: str) -> None:
    if text.startswith("[libraries.x]") and "category" not in text and "no_evidence" not in text:
        text += "\n" + _OK
    with pytest.raises(KnowledgeError, match=complaint.replace("[", r"\[")):
        load(text)


def test_the_data_file_is_package_data() -> None:
    from importlib.resources import files

    assert files("patchkit.knowledge").joinpath("libraries.toml").is_file()


def test_the_docs_point_to_the_generated_matrix() -> None:
    from pathlib import Path

    docs = Path(__file__).resolve().parents[2] / "docs"
    assert "(compatibility.md)" in (docs / "libraries.md").read_text()
    page = (docs / "compatibility.md").read_text()
    for entry in knowledge.knowledge_base().libraries:
        assert f"| **{entry.name}** (" in page, f"docs/compatibility.md lacks {entry.key}"
        assert entry.fix.replace("|", "\\|") in page, f"stale fix for {entry.key}"


def test_stdlib_calls_are_looked_up_by_name() -> None:
    entry = knowledge.lookup("os.system")
    assert entry is not None and entry.key == "os-system" and entry.distributions == ()
    assert "subprocess.run" in entry.fix and entry.name == "os-system"
    assert knowledge.lookup("open").key == "file-io"
    assert knowledge.lookup("sqlite3").key == "sqlite3"
    assert knowledge.lookup("os") is None  # the module itself is not an entry


def test_gil_tells_whether_the_threadpool_helps() -> None:
    assert knowledge.lookup("bcrypt").gil == "released"
    assert knowledge.lookup("orjson").gil == "held"
    assert "does not help" in knowledge.lookup("orjson").fix


def test_the_auditor_watches_every_non_cooperative_import() -> None:
    from patchkit.audit.detectors.imports import known_packages

    known = known_packages()
    assert known["MySQLdb"] == knowledge.lookup("MySQLdb").fix
    assert {"zmq", "confluent_kafka", "pylibmc", "bcrypt", "ctypes", "sqlite3"} <= set(known)
    assert "requests" not in known and "redis" not in known
