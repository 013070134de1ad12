"""The HTML report in a real browser: headless Chromium over the DevTools protocol.

Skipped with the reason when Debian's ``chromium`` is missing, unless
``PATCHKIT_REQUIRE_SERVICES`` is set (CI), where that is a failure.
``PATCHKIT_UPDATE_SCREENSHOT=1`` also saves the example's screenshot as
``docs/images/report.png``.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path

import pytest

from patchkit.audit.html import write_html

from .conftest import ROOT, run_audit, synthetic_report


@pytest.fixture(scope="module")
def example_html(tmp_path_factory: pytest.TempPathFactory,
                 example_reports: dict[str, Path]) -> Path:
    out = tmp_path_factory.mktemp("page") / "example.html"
    proc = run_audit("--render", str(example_reports["json"]), "--html", str(out), "-q",
                     cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    return out


BAR_CENTER = """(() => {
  const bars = [...document.querySelectorAll('#timeline-svg rect.bar')];
  const bar = bars.find(b => F_INDEX(b));
  bar.scrollIntoView({block: 'center'});
  const r = bar.getBoundingClientRect();
  return [r.left + r.width / 2, r.top + r.height / 2, +bar.dataset.f];
})()"""


def test_click_a_bar_shows_the_findings_stack(browser, example_html, example_reports):
    findings = json.loads(example_reports["json"].read_text())["findings"]
    # Its three sleeps are one time.sleep finding. (On a loaded machine a starved sampler
    # can merge one of them with a computing neighbour's part in the first loop turn: a
    # second pause() finding, of CPU work, which is not the one clicked here.)
    (pause,) = [f for f in findings if f["function"] == "pause" and f["callee"] == "time.sleep"]
    browser.open(example_html)
    assert browser.js("document.body.dataset.ready") == "1"
    assert browser.js("document.querySelectorAll('#timeline-svg rect.bar').length") == \
        sum(len(f["events"]) for f in findings)
    assert browser.js("document.querySelectorAll('#findings-body tr[data-f]').length") == \
        len(findings)
    # the pause() finding (time.sleep, three blocks): click its widest bar with the mouse
    finder = "b => document.querySelector('#findings-body tr[data-f=\"' + b.dataset.f + " \
             "'\"]').dataset.callee === 'time.sleep'"
    x, y, index = browser.js(BAR_CENTER.replace("F_INDEX", f"({finder})"))
    browser.click(x, y)
    text = browser.js("document.getElementById('detail').innerText")
    assert browser.js("document.getElementById('detail').dataset.finding") == str(index)
    assert "retry_job" in text and "examples/blocking_app/__main__.py:36" in text
    assert "examples/blocking_app/helpers.py:8 in pause" in text
    assert "fix: import examples.blocking_app.helpers after patch_all()" in text
    assert "this block: started at" in text
    assert browser.js("document.querySelectorAll('rect.bar.sel').length") == len(pause["events"])


def test_table_sorts_and_filters(browser, example_html, example_reports):
    findings = json.loads(example_reports["json"].read_text())["findings"]
    blocking = sum(f["kind"] == "blocking" for f in findings)
    browser.open(example_html)
    kinds = "[...document.querySelectorAll('#findings-body tr[data-f]')].map(r => r.dataset.kind)"
    browser.js("document.querySelector('th[data-sort=kind]').click()")
    assert browser.js(kinds) == sorted(browser.js(kinds))
    browser.js("const s = document.getElementById('filter-kind'); s.value = 'blocking';"
               "s.dispatchEvent(new Event('change'))")
    assert browser.js(kinds) == ["blocking"] * blocking
    assert browser.js("document.getElementById('shown').textContent") == \
        f"{blocking} of {len(findings)} shown"


def test_screenshot_of_the_bundled_example(browser, example_html, tmp_path):
    browser.open(example_html)
    shot = tmp_path / "report.png"
    x, y, _ = browser.js(BAR_CENTER.replace("F_INDEX", "(b => true)"))
    browser.click(x, y)  # show a stack in the detail panel
    browser.js("window.scrollTo(0, 0)")
    browser.screenshot(shot, 1280, 1500)
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 20_000
    if os.environ.get("PATCHKIT_UPDATE_SCREENSHOT"):
        shutil.copyfile(shot, ROOT / "docs" / "images" / "report.png")


def test_zero_findings_page(browser, tmp_path):
    page = tmp_path / "empty.html"
    write_html(synthetic_report(0), str(page))
    browser.open(page)
    assert browser.js("document.body.dataset.ready") == "1"
    assert "Nothing blocked the hub" in browser.js("document.getElementById('summary').innerText")


def test_ten_thousand_blocks_open_fast_and_scroll(browser, tmp_path, capsys):
    page = tmp_path / "big.html"
    write_html(synthetic_report(10_000), str(page))
    started = time.perf_counter()
    browser.open(page)
    elapsed = time.perf_counter() - started
    assert browser.js("document.querySelectorAll('#timeline-svg rect.bar').length") == 10_000
    drawn = "[...document.querySelectorAll('#findings-body tr[data-f]')].map(r => +r.dataset.f)"
    assert 10 < len(browser.js(drawn)) < 200  # a window of rows, not 10,002
    browser.js("const w = document.querySelector('.table-wrap'); w.scrollTop = w.scrollHeight;"
               "w.dispatchEvent(new Event('scroll'))")
    assert 10_001 in browser.js(drawn)  # the last row, scrolled to
    with capsys.disabled():
        print(f"\n10,000 bars: {page.stat().st_size / 1e6:.2f} MB, load event after "
              f"{elapsed:.2f} s")
    assert elapsed < 30  # measured ~0.7 s; only a hang fails
