"""The session summary sums per call site with the audit's one merge (processes.add_into)
and its one site key (model.site_key)."""

from __future__ import annotations

from patchkit.model import EVENTS_PER_FINDING, Finding, HubBlock, StackFrame
from patchkit.pytest_plugin.summary import SessionFindings


def _entry(outcome: str = "failed", original: str | None = None, events: int = 1,
           max_s: float = 0.1, line: int = 3) -> dict:
    finding = Finding("blocking", "app.py", line, "f", None, "time.sleep", events,
                      max_s * events, max_s, None, None, original,
                      [StackFrame("app.py", line, f"f{max_s}")], "blocked", None,
                      [HubBlock(i * 1.0, max_s) for i in range(events)])
    return {"outcome": outcome, "finding": finding.to_dict()}


def test_one_site_across_tests_is_summed_and_its_events_capped() -> None:
    session = SessionFindings()
    session.add("t::a", [_entry(events=EVENTS_PER_FINDING, max_s=0.1)])
    session.add("t::b", [_entry(outcome="allowed", events=10, max_s=0.3)])
    (site,) = session.sites.values()
    finding = site.finding
    assert site.outcome == "failed" and site.tests == ["t::a", "t::b"]
    assert finding.count == EVENTS_PER_FINDING + 10 and finding.max_s == 0.3
    assert len(finding.events) == EVENTS_PER_FINDING and finding.events_omitted == 10
    assert finding.stack[0].function == "f0.3"  # the longest block's stack


def test_the_site_key_includes_the_original() -> None:
    session = SessionFindings()
    session.add("t::a", [_entry(original="time.sleep"), _entry(original="socket.socket")])
    session.add("t::b", [_entry(outcome="cpu")])
    assert len(session.sites) == 3
