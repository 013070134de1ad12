"""A saved report is untrusted input: nothing in it may run in the page or drive the terminal.

Reports travel (CI artifacts, merged with ``--render a.json b.json``, attached to
tickets), so every string in one -- file and function names, messages, the finding's
kind, the command line, process roles -- is written here with payloads that would
inject markup or script into the HTML page, or escape sequences and fake lines into
the terminal view, and the outputs are checked: by parsing the page, in a real
browser, and byte by byte on the terminal.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import subprocess
import sys
import time
from dataclasses import replace
from html.parser import HTMLParser
from pathlib import Path

import pytest

from patchkit.audit.findings import StackFrame
from patchkit.audit.html import render_html, write_html
from patchkit.audit.html_assets import SCRIPT
from patchkit.audit.processes import ProcessInfo
from patchkit.audit.report import Report, make_console, render_terminal, write_json

from .chromium import Browser
from .conftest import ROOT, synthetic_report

# Each ends an attribute or an element, opens one, or sets a marker the browser test reads.
PAYLOADS = ['"><script>window.pwned=1;document.title="pwned";alert(1)</script>',
            'x" onmouseover="window.pwned=2" y="', "x' onmouseover='window.pwned=3' y='",
            "</script><script>window.pwned=4;alert(4)</script><!--",
            "javascript:window.pwned=5", '<img src=x onerror="window.pwned=6">',
            "<svg onload=\"window.pwned=7\"></svg>", "]]><!-- &amp; &lt;b&gt;"]
HOSTILE = "".join(PAYLOADS)


def _hostile(name: str) -> str:
    return f"{name}{HOSTILE}"


def hostile_report(processes: int = 0, kind: str | None = None) -> Report:
    """The synthetic report with every string it holds replaced by payloads (and, with
    *kind*, every finding's kind too)."""
    report = synthetic_report(6, events_each=2)
    findings = []
    for index, finding in enumerate(report.findings):
        stack = [StackFrame(f"/app/{_hostile('stackfile')}{n}.py", n + 1,
                            _hostile(f"stackfn{n}")) for n in range(3)]
        findings.append(replace(
            finding, kind=kind or finding.kind, file=f"/app/{_hostile('file')}{index}.py",
            function=_hostile("function"), package=_hostile(f"package{index % 2}"),
            callee=_hostile("callee"), message=_hostile("message"), fix=_hostile("fix"),
            module=_hostile("module"), name=_hostile("name"), original=_hostile("original"),
            stack=stack if finding.stack else [],
            events=[replace(e, pid=100 + index % 2) for e in finding.events] if processes
            else finding.events))
    infos = [ProcessInfo(100 + n, 1, _hostile("role"), [_hostile("argv"), "--x", HOSTILE],
                         0.0, report.duration_s, 0, True, [_hostile("patched")], 3)
             for n in range(processes)]
    return replace(report, target=_hostile("target"), argv=[_hostile("argv0"), HOSTILE],
                   stopped_by=_hostile("stopped"), python=_hostile("python"),
                   gevent=_hostile("gevent"), patched=[_hostile("patched")],
                   findings=findings, processes=infos)


def _render(report: Report, tmp_path: Path, *args: str,
            env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """``python -m patchkit.audit --render saved.json ARGS`` on *report* saved as JSON."""
    saved = tmp_path / "saved.json"
    write_json(report, str(saved))
    environ = dict(os.environ if env is None else env)
    environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT),
                                                          os.environ.get("PYTHONPATH")]))
    return subprocess.run([sys.executable, "-m", "patchkit.audit", "--render", str(saved),
                           *args], cwd=tmp_path, env=environ, capture_output=True,
                          text=True, timeout=120)


# -- the page, parsed -----------------------------------------------------------------

TAGS = {"html", "head", "meta", "title", "style", "body", "h1", "h2", "dl", "dt", "dd", "p",
        "div", "span", "i", "b", "button", "svg", "line", "rect", "g", "text", "select",
        "option", "input", "table", "thead", "tbody", "tr", "th", "script"}
ATTRIBUTES = {"lang", "charset", "name", "content", "http-equiv", "class", "id", "title",
              "data-zoom", "data-sort", "data-f", "data-e", "data-n", "viewbox",
              "preserveaspectratio", "height", "width", "x", "y", "x1", "x2", "y1", "y2",
              "stroke", "vector-effect", "role", "aria-label", "value", "type", "placeholder"}
KINDS = {"blocking", "start-up", "stale-reference", "late-patch", "misbehavior", "unpatched",
         "unaudited-process", "loop-lag"}


class _Page(HTMLParser):
    """Every element, attribute and text node of a page, and the scripts' and styles' text."""

    def __init__(self, page: str) -> None:
        super().__init__(convert_charrefs=True)
        self.elements: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []
        self.scripts: list[tuple[dict[str, str | None], str]] = []
        self.styles: list[str] = []
        self._open: str | None = None
        self.feed(page)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.elements.append((tag, dict(attrs)))
        if tag == "script":
            self.scripts.append((dict(attrs), ""))
        self._open = tag

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.elements.append((tag, dict(attrs)))

    def handle_endtag(self, tag: str) -> None:
        self._open = None

    def handle_data(self, data: str) -> None:
        if self._open == "script":
            attrs, text = self.scripts[-1]
            self.scripts[-1] = (attrs, text + data)
        elif self._open == "style":
            self.styles.append(data)
        else:
            self.text.append(data)


def _csp(page: _Page) -> dict[str, list[str]]:
    (policy,) = [a["content"] for t, a in page.elements
                 if t == "meta" and (a.get("http-equiv") or "").lower() ==
                 "content-security-policy"]
    assert policy is not None
    return {d.split()[0]: d.split()[1:] for d in policy.split(";") if d.strip()}


def _sha256(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"


def assert_inert(source: str, bar_classes: set[str]) -> _Page:
    """Nothing from the report became markup: only the page's own elements, attributes,
    classes and its one script; the payloads are there as text."""
    page = _Page(source)
    assert {tag for tag, _ in page.elements} <= TAGS
    for tag, attrs in page.elements:
        assert set(attrs) <= ATTRIBUTES, (tag, attrs)
        for key in ("data-f", "data-e", "data-n"):
            assert attrs.get(key) is None or attrs[key].isdigit(), (tag, attrs)
        for token in (attrs.get("class") or "").split():
            assert re.fullmatch(r"[a-z][a-z0-9-]*", token), (tag, attrs)
        if tag == "rect" and "bar" in (attrs.get("class") or "").split():
            assert set(attrs["class"].split()) <= bar_classes, attrs
    data, code = page.scripts
    assert data[0] == {"type": "application/json", "id": "report-data"}
    assert not re.search(r"[<>&]", data[1])  # nothing in it can end or comment the element
    strings = json.loads(data[1])["strings"]
    assert any(HOSTILE in s for s in strings if s)  # the payloads survive, as data
    assert code[1] == SCRIPT and set(code[0]) <= {"nonce"}
    assert PAYLOADS[0] not in source and PAYLOADS[3] not in source
    assert any(HOSTILE in text for text in page.text)  # shown, as text
    return page


@pytest.mark.parametrize("processes", [0, 2], ids=["lanes-by-package", "lanes-by-process"])
def test_saved_report_strings_stay_text_in_the_page(tmp_path, processes):
    out = tmp_path / "out.html"
    proc = _render(hostile_report(processes), tmp_path, "--html", str(out), "-q")
    assert proc.returncode == 0, proc.stderr
    assert_inert(out.read_text(encoding="utf-8"), {"bar", "blocking", "cpu"})


def test_a_hostile_kind_is_no_class_of_the_page(tmp_path):
    # The kind names a CSS class: one the page does not know is drawn neutral.
    assert_inert(render_html(hostile_report(kind=_hostile("kind"))), {"bar", "other"})
    # Through --render: written inert, or refused as not a report (nothing written).
    out = tmp_path / "out.html"
    proc = _render(hostile_report(kind=_hostile("kind")), tmp_path, "--html", str(out), "-q")
    if proc.returncode == 2:
        assert not out.exists()
    else:
        assert proc.returncode == 0, proc.stderr
        assert_inert(out.read_text(encoding="utf-8"), {"bar", "other"})


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_every_known_kind_keeps_its_class(kind):
    report = synthetic_report(2)
    report.findings = [replace(f, kind=kind) for f in report.findings if f.events]
    page = _Page(render_html(report))
    bars = [a["class"] for t, a in page.elements if t == "rect" and a.get("data-f")]
    expected = "cpu" if kind == "blocking" and report.findings[0].callee is None else kind
    assert bars and f"bar {expected}" in bars


def test_the_policy_allows_no_inline_script_but_the_pages_own():
    page = _Page(render_html(hostile_report(kind=_hostile("kind"))))
    policy = _csp(page)
    assert policy["default-src"] == ["'none'"]
    (script,) = [text for attrs, text in page.scripts if attrs.get("type") is None]
    for directive, body in (("script-src", script), ("style-src", "".join(page.styles))):
        sources = policy[directive]
        assert "'unsafe-inline'" not in sources and "'unsafe-hashes'" not in sources, sources
        assert _sha256(body) in sources, (directive, sources)
    assert policy.get("base-uri") == ["'none'"] and policy.get("form-action") == ["'none'"]
    for tag, attrs in page.elements:  # no inline handlers or styles: the policy refuses them
        assert not [a for a in attrs if a.startswith("on") or a == "style"], (tag, attrs)


# -- the page, in a browser -------------------------------------------------------------

WATCH = ("window.__csp = [];document.addEventListener('securitypolicyviolation', e => "
         "window.__csp.push(e.violatedDirective + ' ' + e.blockedURI + ' ' + e.sample));")


def _open_watching(browser: Browser, path: Path) -> list[str]:
    """Load *path*, recording (and dismissing) any dialog and any CSP violation."""
    browser.call("Page.enable")
    watch = browser.call("Page.addScriptToEvaluateOnNewDocument", source=WATCH)["identifier"]
    browser.events.clear()
    dialogs: list[str] = []
    try:
        browser.call("Page.navigate", url=path.resolve().as_uri())
        deadline = time.monotonic() + 60
        while True:
            names = [e.get("method") for e in browser.events]
            for event in [e for e in browser.events
                          if e.get("method") == "Page.javascriptDialogOpening"]:
                browser.events.remove(event)
                dialogs.append(event["params"]["message"])
                browser.call("Page.handleJavaScriptDialog", accept=True)
            if "Page.loadEventFired" in names:
                break
            assert time.monotonic() < deadline, "no load event in 60 s"
            browser.events.append(json.loads(browser.ws.recv()))
    finally:
        browser.call("Page.removeScriptToEvaluateOnNewDocument", identifier=watch)
    return dialogs


def test_hostile_page_runs_only_its_own_script(browser, tmp_path):
    report = hostile_report()
    report.findings[1] = replace(report.findings[1], kind=_hostile("kind"))  # one with bars
    page = tmp_path / "hostile.html"
    write_html(report, str(page))
    dialogs = _open_watching(browser, page)
    assert dialogs == []
    assert browser.js("typeof window.pwned") == "undefined"
    assert browser.js("document.title") != "pwned"
    assert browser.js("window.__csp") == []  # nothing refused: nothing else tried to run
    assert browser.js("document.body.dataset.ready") == "1"  # the page's script ran
    assert browser.js("document.querySelectorAll('#findings-body tr[data-f]').length") == \
        len(report.findings)
    # hover over a bar and click it: the stack is shown, payloads as plain text
    bar = browser.js("""(() => {
      const b = document.querySelector('#timeline-svg rect.bar.blocking');
      b.scrollIntoView({block: 'center'});
      const r = b.getBoundingClientRect();
      return [r.left + r.width / 2, r.top + r.height / 2, +b.dataset.f];
    })()""")
    browser.call("Input.dispatchMouseEvent", type="mouseMoved", x=bar[0], y=bar[1])
    assert HOSTILE in browser.js("document.getElementById('tip').textContent")
    browser.click(bar[0], bar[1])
    assert browser.js("document.getElementById('detail').dataset.finding") == str(bar[2])
    detail = browser.js("document.getElementById('detail').textContent")
    assert _hostile("stackfn0") in detail and _hostile("fix") in detail
    assert browser.js("document.querySelectorAll('#detail script, #detail img').length") == 0
    # the row of the hostile kind: its badge has the neutral class
    assert browser.js("[...document.querySelectorAll('#findings-body .kind')]"
                      ".map(s => s.className).filter(c => !/^kind [a-z-]+$/.test(c))") == []
    assert browser.js("typeof window.pwned") == "undefined" and \
        browser.js("window.__csp") == []


# -- the terminal -----------------------------------------------------------------------

ESCAPES = {"sgr": "\x1b[31mRED\x1b[0m", "osc": "\x1b]8;;http://evil.example/\x1b\\link"
           "\x1b]8;;\x1b\\", "c1": "\x9b2J", "bell": "\x07", "cr": "\rOVERWRITE",
           "markup": "[bold]B[/bold][link=http://evil.example]L[/link]"}
FORGED = "\n  blocking        forged.py:1 in forged  x1, 999.0 ms total"


def _terminal_report(kind: str | None = None) -> Report:
    payload = "".join(ESCAPES.values()) + FORGED
    report = synthetic_report(3)
    report.findings = [replace(
        f, kind=kind or f.kind, file=f"/app/{payload}{i}.py", function=f"fn{payload}",
        package=f"pkg{payload}" if i % 2 else None, callee=f"callee{payload}",
        message=f"message{payload}", fix=f"fix{payload}") for i, f in enumerate(report.findings)]
    infos = [ProcessInfo(100 + n, 1, f"role{payload}", [f"argv{payload}"], 0.0, 1.0, 0, True,
                         [], 1) for n in range(2)]
    return replace(report, target=f"target{payload}", stopped_by=f"stop{payload}",
                   processes=infos)


def _assert_visible(output: str, colour: bool) -> None:
    raw = re.sub(r"\x1b\[[0-9;]*m", "", output) if colour else output
    assert not re.search(r"[\x00-\x09\x0b-\x1f\x7f-\x9f]", raw), repr(raw[:2000])
    assert "\x1b[31mRED" not in output and "\x1b]" not in output
    joined = raw.replace("\n", "")  # a long line may be folded anywhere
    assert "\\x1b[31mRED\\x1b[0m" in joined and "\\x9b2J" in joined and "\\x0dOVERWRITE" in joined
    assert "[bold]B[/bold][link=http://evil.example]L[/link]" in joined  # not markup
    assert not [line for line in raw.splitlines() if line.startswith("  blocking        forged")]
    assert "\\x0a  blocking        forged.py:1" in joined


@pytest.mark.parametrize("colour", [False, True], ids=["plain", "FORCE_COLOR"])
def test_saved_strings_cannot_drive_the_terminal(tmp_path, colour):
    env = {k: v for k, v in os.environ.items() if k not in ("FORCE_COLOR", "NO_COLOR", "TERM")}
    env.update({"FORCE_COLOR": "1", "COLUMNS": "120", "TERM": "xterm-256color"} if colour
               else {"NO_COLOR": "1", "TERM": "dumb"})
    proc = _render(_terminal_report(), tmp_path, env=env)
    assert proc.returncode == 0, proc.stderr
    assert "RED" in proc.stderr and "\\x1b" in proc.stderr
    _assert_visible(proc.stderr, colour)


def test_a_hostile_kind_is_escaped_on_the_terminal():
    import io

    out = io.StringIO()
    render_terminal(_terminal_report(kind="kind" + "".join(ESCAPES.values()) + FORGED),
                    make_console(out))
    _assert_visible(out.getvalue(), False)


def test_visible_escapes_every_control_character():
    from patchkit.audit.report import visible

    assert visible("a\x00b\x1b[0m\x7f\x85\x9b\u2028\u202e\tc") == \
        "a\\x00b\\x1b[0m\\x7f\\x85\\x9b\\u2028\\u202e\\x09c"
    assert visible("plain/ü/日本.py [b]") == "plain/ü/日本.py [b]"
    assert visible(None) == "None" and visible(3) == "3"
