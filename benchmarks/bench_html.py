"""How big the HTML report gets and how fast it opens (python -m patchkit.audit --html).

Run: python -m benchmarks.bench_html [--findings N ...] [--events-each K] [--rounds R]

For each size (default 0, 1,000 and 10,000 findings, one timed hub block each) it
prints: the page size, the time to render it in Python, and, when Debian's
``chromium`` is installed, the time headless Chromium takes from navigation to the
load event (parse, the inline script building the table, first layout) as the
median of R rounds in one browser; then it jumps to the end of the findings table and
scrolls through it 400 px per animation frame, reporting the time per frame (16.7 ms is
one frame at 60 Hz; the table keeps only the rows in sight in the document). Issue 8's target: 10,000 blocks open and scroll smoothly.
Nothing is asserted; the figures are for the docs.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from patchkit.audit.html import render_html  # noqa: E402
from report_html.chromium import Browser, find_chromium  # noqa: E402
from report_html.conftest import synthetic_report  # noqa: E402

SCROLL = """(async () => {
  const w = document.querySelector('.table-wrap'), frame = () =>
    new Promise(r => requestAnimationFrame(r));
  let t0 = performance.now(), pages = 0;
  w.scrollTop = w.scrollHeight; await frame(); pages++;
  const fill = performance.now() - t0;
  w.scrollTop = 0; await frame();
  t0 = performance.now();
  for (let i = 0; i < 60; i++) { w.scrollTop += 400; await frame(); }
  return [fill, pages, (performance.now() - t0) / 60,
          document.querySelectorAll('#findings-body tr[data-f]').length];
})()"""


def measure(count: int, events_each: int, rounds: int, browser: Browser | None,
            folder: Path) -> str:
    report = synthetic_report(count, events_each)
    started = time.perf_counter()
    page = render_html(report)
    render_s = time.perf_counter() - started
    path = folder / f"report-{count}.html"
    path.write_text(page, encoding="utf-8")
    bars = page.count('class="bar ')
    line = (f"{count:>6} findings {bars:>6} bars  {len(page.encode()) / 1e6:6.2f} MB  "
            f"render {render_s * 1000:7.1f} ms")
    if browser is None:
        return line + "  (chromium not installed: no load time)"
    loads = []
    for _ in range(rounds):
        browser.open(path)
        loads.append(browser.js("performance.getEntriesByType('navigation')[0].loadEventEnd"))
    fill_ms, pages, frame_ms, rows = browser.js(SCROLL)
    return (line + f"  load event {statistics.median(loads):6.1f} ms (median of {rounds})"
            f"  jump to the end {fill_ms:5.1f} ms; {frame_ms:5.1f} ms/frame scrolling"
            f" ({rows} rows in the document)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--findings", type=int, nargs="+", default=[0, 1_000, 10_000])
    parser.add_argument("--events-each", type=int, default=1)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args(argv)
    binary = find_chromium()
    browser = Browser(binary) if binary else None
    try:
        with tempfile.TemporaryDirectory() as folder:
            for count in args.findings:
                print(measure(count, args.events_each, args.rounds, browser, Path(folder)),
                      flush=True)
    finally:
        if browser is not None:
            browser.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
