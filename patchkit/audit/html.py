"""The audit report as one self-contained HTML file: header, hub timeline, table, profile.

Charts are inline SVG whose geometry is computed here, in Python: the file needs no
charting library (nothing to vendor, nothing fetched when opened), the picture is
there even with scripts off, and the layout is testable without a browser. A small
inlined vanilla script (:mod:`.html_assets`) adds hover, click-for-details, zoom,
sorting and filtering through delegated listeners, so 10,000 bars cost one handler.
Data the panel shows (stacks, fixes) is embedded once as JSON, escaped so no report
content can close the script element.

A saved report is untrusted (``--render`` reads CI artifacts, merged from anywhere):
every string from it is HTML-escaped in text and attributes, a finding's kind becomes
a CSS class only through an allow-list, and the page's Content-Security-Policy lets
only this module's own script and stylesheet run (by their SHA-256), so markup that
slipped through could still not execute.
"""

from __future__ import annotations

import base64
import hashlib
import heapq
import html
import json
import os
import sysconfig
from dataclasses import dataclass, field, replace
from typing import Any, Iterable, get_args

from .._atomic import write_atomic
from ..model import Finding, Kind, Report
from .display import short_path
from .html_assets import CSS, SCRIPT

__all__ = ["render_html", "write_html", "FlameNode", "flame_tree"]

WIDTH = 1000.0  # SVG user units across the timeline and the profile
LANE = 22  # px per timeline lane
ROW = 17  # px per profile depth
MAX_DEPTH = 48
MIN_FRAME = 0.0008  # profile frames under this share of blocked time are left out
# A page stays quick to open (the browser tests load 10,000 findings and bars): a bigger
# report shows its first MAX_FINDINGS (the most blocked time) and their MAX_BARS longest
# blocks, and says what it left out; the JSON report keeps everything.
MAX_FINDINGS = 20_000
MAX_BARS = 50_000


KIND_CLASSES = frozenset(get_args(Kind))
"""The kinds the stylesheet colours; any other kind (a hand-edited report) is ``other``."""


def _esc(value: object) -> str:
    return html.escape(str(value), quote=True)


def _csp_hash(text: str) -> str:
    """The CSP source that allows exactly the inline element whose content is *text*."""
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"


def _seconds(value: float) -> str:
    return f"{value * 1000:.1f} ms" if value < 1 else f"{value:.3f} s"


def _cause(finding: Finding) -> str:
    """The bar's CSS class: the kind only when the page knows it (it is report data)."""
    if finding.kind == "blocking" and finding.callee is None:
        return "cpu"
    return finding.kind if isinstance(finding.kind, str) and finding.kind in KIND_CLASSES \
        else "other"


class _Strings:
    """A string table: the same path, message or fix appears once in the page, not per row."""

    def __init__(self) -> None:
        self.index: dict[str | None, int] = {}

    def __call__(self, value: str | None) -> int:
        return self.index.setdefault(value, len(self.index))


def _data(report: Report, flame: list[tuple[str, float]], blocked: float) -> str:
    """The page's data as compact JSON: findings are positional rows over a string table
    (decoded once by the script); the field order is ``FIELDS`` in the script."""
    text = _Strings()
    findings = [[
        text(f.kind), text(short_path(f.file)), f.line, text(f.function), text(f.package),
        text(f.callee), f.count, round(f.total_s, 6), round(f.max_s, 6), text(f.message),
        text(f.fix), [[text(short_path(s.file)), s.line, text(s.function)] for s in f.stack],
        [[round(e.start_s, 6), round(e.duration_s, 6)] for e in f.events],
    ] for f in report.findings]
    data = json.dumps({"strings": list(text.index), "findings": findings,
                       "flame": [[n, round(t, 6)] for n, t in flame], "blocked_s": blocked,
                       "kinds": sorted(KIND_CLASSES)}, separators=(",", ":"))
    # "<" as \u003c: no "</script>" or "<!--" in report data can end the element early
    # ("&" and ">" too, so the block reads the same to any HTML or XML parser).
    return data.replace("&", "\\u0026").replace("<", "\\u003c").replace(">", "\\u003e")


def _header(report: Report) -> str:
    argv = " ".join(report.argv)
    stopped = f" (stopped by {report.stopped_by})" if report.stopped_by else ""
    rows = [("target", report.target), ("argv", argv),
            ("exit code", f"{report.exit_code}{stopped}"),
            ("duration", _seconds(report.duration_s)),
            ("Python", report.python or "?"), ("gevent", report.gevent or "?"),
            ("patched", ", ".join(report.patched) or "nothing")]
    for info in report.processes if len(report.processes) > 1 else []:
        status = (f"exited {info.exit_code}" if info.exit_code is not None else "ended") \
            if info.ended else "no final report"
        rows.append((f"pid {info.pid}", f"{info.role}, parent {info.ppid}, {status}, "
                     f"{_seconds(info.duration_s)}, {info.findings} finding(s): "
                     + " ".join(info.argv)))
    items = "".join(f"<dt>{_esc(k)}</dt><dd class=mono>{_esc(v)}</dd>" for k, v in rows)
    return (f"<h1>patchkit audit: {_esc(short_path(report.target))}</h1>"
            f"<dl class=run id=run>{items}</dl>")


def _lanes(report: Report) -> list[tuple[str, list[tuple[int, int]]]]:
    """Timeline lanes as (name, [(finding index, event number)]): one per process when
    several were audited, else one per package."""
    if len(report.processes) > 1:
        roles = {p.pid: p.role for p in report.processes}
        by_pid: dict[int | None, list[tuple[int, int]]] = {p.pid: [] for p in report.processes}
        for index, finding in enumerate(report.findings):
            for number, event in enumerate(finding.events):
                by_pid.setdefault(event.pid, []).append((index, number))
        return [(f"pid {pid} ({roles.get(pid, '?') if pid is not None else '?'})", items)
                for pid, items in by_pid.items()]
    lanes: dict[str, list[tuple[int, int]]] = {}
    for index, finding in enumerate(report.findings):
        for number in range(len(finding.events)):
            lanes.setdefault(finding.package or "your code", []).append((index, number))
    return sorted(lanes.items(), key=lambda item: (
        item[0] != "your code", -sum(report.findings[i].events[n].duration_s
                                     for i, n in item[1]), item[0]))


def _ticks(span: float) -> list[float]:
    step = 10 ** len(str(int(span))) / 1000 if span >= 1 else 0.001
    for factor in (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000):
        if span / (step * factor) <= 10:
            step *= factor
            break
    count = int(span / step) + 1
    return [round(i * step, 9) for i in range(count)]


def _timeline(report: Report) -> tuple[str, str]:
    """The timeline's markup, and the stylesheet rules that place its axis labels (a
    ``style`` attribute would need ``'unsafe-inline'`` in the page's policy)."""
    lanes = _lanes(report)
    if not any(items for _, items in lanes):
        return "<p class=muted id=timeline>No timed hub blocks in this run.</p>", ""
    ends = [e.start_s + e.duration_s for f in report.findings for e in f.events]
    span = max([report.duration_s, *ends]) or 1.0
    scale = WIDTH / span
    bars = []
    for lane, (_, items) in enumerate(lanes):
        y = lane * LANE + 3
        for index, number in items:
            finding = report.findings[index]
            cls = _cause(finding)
            event = finding.events[number]
            bars.append(f'<rect class="bar {cls}" x="{event.start_s * scale:.3f}" y="{y}" '
                        f'width="{max(event.duration_s * scale, 0.6):.3f}" '
                        f'height="{LANE - 6}" data-f="{index}" data-e="{number}"/>')
    height = len(lanes) * LANE
    grid = "".join(f'<line x1="{t * scale:.3f}" x2="{t * scale:.3f}" y1="0" y2="{height}" '
                   f'stroke="#e3e6ec" vector-effect="non-scaling-stroke"/>'
                   for t in _ticks(span))
    labels = "".join(f"<span>{t:g} s</span>" for t in _ticks(span))
    places = "".join(f".tl-axis span:nth-child({number}){{left:{t * scale / WIDTH * 100:.4f}%}}"
                     for number, t in enumerate(_ticks(span), 1))
    names = "".join(f'<div title="{_esc(name)}">{_esc(name)}</div>' for name, _ in lanes)
    omitted = sum(f.events_omitted for f in report.findings)
    note = (f"<p class=muted>{_esc(omitted)} shorter block(s) not drawn (each finding keeps "
            "its longest).</p>" if omitted else "")
    return (
        "<div class=tools>zoom <button data-zoom=2>+</button><button data-zoom=0.5>&minus;"
        "</button><button data-zoom=fit>fit</button> <span id=zoom-level>&times;1</span></div>"
        f"<div class=tl id=timeline><div class=tl-lanes>{names}<div></div></div>"
        "<div class=tl-scroll><div class=tl-inner id=tl-inner>"
        f'<svg id=timeline-svg viewBox="0 0 {WIDTH:g} {height}" preserveAspectRatio="none" '
        f'height="{height}" role="img" aria-label="hub blocks over time">{grid}'
        f'{"".join(bars)}</svg><div class=tl-axis>{labels}</div></div></div></div>{note}',
        places)


@dataclass
class FlameNode:
    """A frame in the blocking profile: the time blocked with it on the stack."""

    label: str
    kind: str
    seconds: float = 0.0
    children: dict[tuple[Any, ...], FlameNode] = field(default_factory=dict)


_STDLIB = sysconfig.get_paths()["stdlib"] + os.sep


def _frame_kind(file: str) -> str:
    outside = file.startswith(("<", _STDLIB)) or "site-packages" in file or "dist-packages" in file
    return "lib" if outside else "app"


def flame_tree(findings: Iterable[Finding]) -> FlameNode:
    """Blocked time aggregated by stack: root -> outermost frame -> ... -> callee."""
    root = FlameNode("all hub blocking", "root")
    for finding in findings:
        if finding.kind != "blocking" or finding.total_s <= 0:
            continue
        root.seconds += finding.total_s
        node = root
        path: list[tuple[tuple[Any, ...], str, str]] = [
            ((s.file, s.line, s.function),
             f"{s.function} ({os.path.basename(s.file)}:{s.line})", _frame_kind(s.file))
            for s in finding.stack]
        path.append((("callee", finding.callee), finding.callee or "(Python code, CPU)",
                     "leaf"))
        for key, label, kind in path[-MAX_DEPTH:]:
            node = node.children.setdefault(key, FlameNode(label, kind))
            node.seconds += finding.total_s
    return root


def _flame(report: Report) -> tuple[str, list[tuple[str, float]], float]:
    root = flame_tree(report.findings)
    if root.seconds <= 0:
        return "<p class=muted id=profile>No blocked time to profile.</p>", [], 0.0
    nodes: list[tuple[str, float]] = []
    shapes: list[str] = []
    depth_max = 0
    todo = [(root, 0.0, 0)]
    while todo:
        node, x, depth = todo.pop()
        width = node.seconds / root.seconds * WIDTH
        depth_max = max(depth_max, depth)
        number = len(nodes)
        nodes.append((node.label, node.seconds))
        chars = int((width - 6) / 6.4)
        text = node.label if len(node.label) <= chars else node.label[:max(chars - 1, 0)] + "…"
        label = f'<text x="{x + 3:.2f}" y="{depth * ROW + 12}">{_esc(text)}</text>' \
            if chars >= 3 else ""
        shapes.append(f'<g data-n="{number}"><rect class="{node.kind}" x="{x:.2f}" '
                      f'y="{depth * ROW}" width="{width:.2f}" height="{ROW}"/>{label}</g>')
        offset = x
        for child in sorted(node.children.values(), key=lambda c: -c.seconds):
            if child.seconds / root.seconds >= MIN_FRAME:
                todo.append((child, offset, depth + 1))
            offset += child.seconds / root.seconds * WIDTH
    height = (depth_max + 1) * ROW
    svg = (f'<svg class=flame id=flame-svg viewBox="0 0 {WIDTH:g} {height}" role="img" '
           f'aria-label="blocked time by stack">{"".join(shapes)}</svg>')
    return svg, nodes, root.seconds


def _options(values: Iterable[str]) -> str:
    return "".join(f"<option>{_esc(v)}</option>" for v in values)


def _table(report: Report) -> str:
    # Rows are built by the script from the page data: writing them here too would
    # double a 10,000-finding page for no gain.
    kinds = sorted({f.kind for f in report.findings})
    packages = sorted({f.package or "your code" for f in report.findings})
    head = "".join(f'<th data-sort="{key}"{" class=num" if num else ""}>{name}</th>'
                   for key, name, num in (
                       ("kind", "kind", False), ("site", "site", False),
                       ("function", "function", False), ("package", "package", False),
                       ("callee", "callee", False), ("count", "count", True),
                       ("total", "total ms", True), ("max", "max ms", True)))
    total = len(report.findings)
    return (f"<div class=filters>kind <select id=filter-kind><option value=''>all</option>"
            f"{_options(kinds)}</select> package <select id=filter-package><option value=''>"
            f"all</option>{_options(packages)}</select> <input id=filter-text type=search "
            f"placeholder='filter text'> <span id=shown class=muted>{total} of "
            f"{total} shown</span></div><div class=table-wrap><table id=findings>"
            f"<thead><tr>{head}</tr></thead><tbody id=findings-body></tbody></table></div>")


def _summary(report: Report) -> str:
    blocked = sum(f.total_s for f in report.findings if f.kind == "blocking")
    blocks = sum(len(f.events) + f.events_omitted for f in report.findings)
    if not report.findings:
        return "<p class='summary empty' id=summary>Nothing blocked the hub above the " \
               "threshold.</p>"
    return (f"<p class=summary id=summary>{len(report.findings)} finding(s); the hub was "
            f"blocked {blocks} time(s) for {_seconds(blocked)} in total.</p>")


LEGEND = ("<div class=legend><span><i class=blocking></i>blocking call</span>"
          "<span><i class=cpu></i>Python code that never yielded (CPU)</span></div>")
FLAME_LEGEND = ("<div class=legend><span><i class=app></i>your code</span><span><i class=lib>"
                "</i>stdlib or installed package</span><span><i class=leaf></i>what blocked (callee)"
                "</span></div>")


_SCRIPT_SOURCE = _csp_hash(SCRIPT)


def _policy(style: str) -> str:
    """Nothing fetched, and nothing run or applied but this page's own script and
    stylesheet: no inline handler, ``style`` attribute or injected element."""
    return (f"default-src 'none'; style-src {_csp_hash(style)}; script-src {_SCRIPT_SOURCE}; "
            "img-src data:; base-uri 'none'; form-action 'none'")


def _shown(report: Report) -> tuple[Report, str]:
    """*report* as the page shows it (at most MAX_FINDINGS findings and MAX_BARS timed
    blocks, the longest), and the note saying how many findings were left out."""
    findings = report.findings[:MAX_FINDINGS]
    durations = [e.duration_s for f in findings for e in f.events]
    if len(durations) > MAX_BARS:
        floor = heapq.nlargest(MAX_BARS, durations)[-1]
        ties = MAX_BARS - sum(1 for d in durations if d > floor)
        trimmed = []
        for finding in findings:
            kept = []
            for event in finding.events:
                if event.duration_s > floor or (event.duration_s == floor and ties > 0):
                    ties -= event.duration_s == floor
                    kept.append(event)
            trimmed.append(replace(finding, events=kept, events_omitted=(
                finding.events_omitted + len(finding.events) - len(kept))))
        findings = trimmed
    left = len(report.findings) - len(findings)
    note = (f"<p class=muted id=left-out>{left} more finding(s) not shown (the least blocked "
            "time); the JSON report has them all.</p>" if left else "")
    return replace(report, findings=findings), note


def render_html(report: Report) -> str:
    """The whole report as one HTML document (no external resources)."""
    shown, left_out = _shown(report)
    flame, nodes, blocked = _flame(report)  # all the time blocked: MIN_FRAME bounds it
    timeline, places = _timeline(shown)
    style = CSS + places
    return (
        "<!DOCTYPE html>\n<html lang=en><head><meta charset=utf-8>"
        "<meta name=viewport content='width=device-width,initial-scale=1'>"
        f'<meta http-equiv=Content-Security-Policy content="{_policy(style)}">'
        f"<title>patchkit audit: {_esc(short_path(report.target))}</title>"
        f"<style>{style}</style></head><body>{_header(report)}{_summary(report)}"
        f"<h2>Hub timeline</h2><p class=muted>Every hub block over the threshold, by "
        f"package; hover for the call site, click for the stack and the fix.</p>{LEGEND}"
        f"{timeline}<div id=detail class=muted>Click a bar, a row or a frame.</div>"
        f"<h2>Findings</h2>{_table(shown)}{left_out}"
        f"<h2>Blocking profile</h2><p class=muted>Blocked time by stack, outermost frame on "
        f"top; width is the share of all hub blocking.</p>{FLAME_LEGEND}{flame}"
        f"<div id=tip></div><script type=application/json id=report-data>"
        f"{_data(shown, nodes, blocked)}</script><script>{SCRIPT}</script></body></html>\n")


def write_html(report: Report, path: str) -> None:
    """Write the HTML report for *report* to *path* atomically."""
    write_atomic(path, render_html(report))
