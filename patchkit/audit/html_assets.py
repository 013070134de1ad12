"""The HTML report's stylesheet and script, inlined into every report (nothing is fetched).

Plain CSS and dependency-free JavaScript kept as module constants, so the report works
offline from any install (wheel, editable, zipapp) without package-data plumbing. The
script only adds interaction to server-rendered markup: tooltip and detail panel for
timeline bars and profile frames (one delegated listener each, so 10,000 bars cost no
per-element handlers), table sorting and filtering, and timeline zoom.

The page's policy allows these two by their hashes alone, so neither may depend on
markup the policy refuses: no ``on...=`` handler attributes (listeners are added
here) and no ``style`` attributes (the script sets element styles through the CSSOM,
which the policy permits).
"""

from __future__ import annotations

__all__ = ["CSS", "SCRIPT"]

CSS = """
:root{--fg:#1d2330;--muted:#5b6475;--line:#d9dde5;--bg:#fff;--panel:#f6f7f9;
--blocking:#d1453b;--cpu:#e8912d;--stale-reference:#7a5cc4;--late-patch:#3f7fd0;
--misbehavior:#c2388a;--unpatched:#6b7280;--app:#3a8f5c;--lib:#4a78b5;--leaf:#d1453b}
*{box-sizing:border-box}
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;color:var(--fg);
background:var(--bg);margin:0;padding:16px 24px}
h1{font-size:20px;margin:0 0 4px}h2{font-size:16px;margin:24px 0 8px}
code,.mono{font-family:ui-monospace,"DejaVu Sans Mono",Menlo,monospace;font-size:12.5px}
.muted{color:var(--muted)}
dl.run{display:grid;grid-template-columns:max-content 1fr;gap:2px 16px;margin:8px 0}
dl.run dt{color:var(--muted)}dl.run dd{margin:0}
.summary{font-size:15px;margin:8px 0}
.legend span{display:inline-block;margin-right:14px}
.legend i{display:inline-block;width:11px;height:11px;margin-right:5px;vertical-align:-1px}
.tl{display:grid;grid-template-columns:160px 1fr;border:1px solid var(--line)}
.tl-lanes div{height:22px;padding:2px 6px;white-space:nowrap;overflow:hidden;
text-overflow:ellipsis;border-bottom:1px solid var(--line);font-size:12px}
.tl-scroll{overflow-x:auto;overflow-y:hidden;position:relative}
.tl-inner{position:relative;width:100%}
.tl-inner svg{display:block;width:100%}
.tl-axis{position:relative;height:18px;font-size:11px;color:var(--muted)}
.tl-axis span{position:absolute;transform:translateX(-50%);white-space:nowrap}
.tl-axis span:first-child{transform:none}
.tools button{margin-right:4px}
rect.bar{cursor:pointer}rect.bar:hover,rect.sel{stroke:#000;stroke-width:1.5px;
vector-effect:non-scaling-stroke}
svg .blocking{fill:var(--blocking)}svg .cpu{fill:var(--cpu)}
svg .stale-reference{fill:var(--stale-reference)}svg .late-patch{fill:var(--late-patch)}
svg .misbehavior{fill:var(--misbehavior)}svg .unpatched{fill:var(--unpatched)}
.legend .blocking{background:var(--blocking)}.legend .cpu{background:var(--cpu)}
.legend .app{background:var(--app)}.legend .lib{background:var(--lib)}
.legend .leaf{background:var(--leaf)}
svg.flame{width:100%;display:block;border:1px solid var(--line)}
.flame g{cursor:pointer}.flame rect{stroke:#fff;stroke-width:.5}
.flame .app{fill:var(--app)}.flame .lib{fill:var(--lib)}.flame .leaf{fill:var(--leaf)}
.flame .root{fill:#8a93a3}.flame g:hover rect{opacity:.8}
.flame text{font:10.5px ui-monospace,"DejaVu Sans Mono",monospace;fill:#fff;pointer-events:none}
#tip{position:fixed;pointer-events:none;background:#1d2330;color:#fff;padding:4px 8px;
border-radius:4px;font-size:12px;max-width:520px;display:none;z-index:10}
#detail{background:var(--panel);border:1px solid var(--line);padding:10px 14px;margin-top:10px;
min-height:48px}
#detail ol{margin:4px 0;padding-left:22px}#detail .fix{color:#1f6f3f}
.filters{margin:6px 0}.filters select,.filters input{margin-right:10px}
.table-wrap{max-height:70vh;overflow:auto;border:1px solid var(--line)}
table{border-collapse:collapse;width:100%;table-layout:fixed}
th,td{padding:3px 8px;border-bottom:1px solid var(--line);text-align:left;white-space:nowrap;
overflow:hidden;text-overflow:ellipsis}
th:nth-child(1){width:130px}th:nth-child(2){width:28%}th:nth-child(4){width:11%}
th:nth-child(5){width:20%}th:nth-child(n+6){width:80px}
th{position:sticky;top:0;background:var(--panel);cursor:pointer;user-select:none}
td.num,th.num{text-align:right}
tbody tr{cursor:pointer}tr.pad td{padding:0;border:0}
tbody tr:hover{background:#eef3fb}tbody tr.sel{background:#fde9e7}
.kind{display:inline-block;padding:0 6px;border-radius:3px;color:#fff;font-size:12px}
.kind.blocking{background:var(--blocking)}.kind.stale-reference{background:var(--stale-reference)}
.kind.late-patch{background:var(--late-patch)}.kind.misbehavior{background:var(--misbehavior)}
.kind.unpatched{background:var(--unpatched)}.kind.start-up{background:#5b7fa6}svg .start-up{fill:#5b7fa6}.kind.loop-lag{background:#8a6d1d}
.kind.unaudited-process{background:var(--unpatched)}svg .loop-lag{fill:#8a6d1d}
.kind.other{background:var(--unpatched)}svg .other{fill:var(--unpatched)}
.empty{color:#1f6f3f;font-weight:600}
"""

SCRIPT = r"""
(function () {
  "use strict";
  var D = JSON.parse(document.getElementById("report-data").textContent);
  var S = D.strings, tip = document.getElementById("tip");
  // Positional rows over a string table, as html._data writes them.
  var F = D.findings.map(function (r) {
    return {kind: S[r[0]], short: S[r[1]], line: r[2], "function": S[r[3]],
      "package": S[r[4]], callee: S[r[5]], count: r[6], total_s: r[7], max_s: r[8],
      message: S[r[9]], fix: S[r[10]],
      stack: r[11].map(function (s) { return [S[s[0]], s[1], S[s[2]]]; }), events: r[12]};
  });
  var detail = document.getElementById("detail");
  // A kind is report data: it names a class only if the stylesheet knows it.
  function kindClass(k) { return "kind " + (D.kinds.indexOf(k) >= 0 ? k : "other"); }
  function ms(s) { return s < 1 ? (s * 1000).toFixed(1) + " ms" : s.toFixed(3) + " s"; }
  function el(tag, text, cls) {
    var e = document.createElement(tag);
    if (text !== undefined && text !== null) e.textContent = text;
    if (cls) e.className = cls;
    return e;
  }
  function site(f) {
    return (f.short || "?") + (f.line ? ":" + f.line : "") +
      (f.function && f.function !== "<module>" ? " in " + f.function : "");
  }
  function showFinding(i, ev) {
    var f = F[i];
    detail.textContent = "";
    detail.dataset.finding = String(i);
    var head = el("div");
    head.appendChild(el("span", f.kind, kindClass(f.kind)));
    head.appendChild(el("b", " " + site(f)));
    detail.appendChild(head);
    var facts = "package: " + (f.package || "your code") +
      (f.callee ? " \u00b7 callee: " + f.callee : "") + " \u00b7 \u00d7" + f.count;
    if (f.total_s > 0) facts += " \u00b7 " + ms(f.total_s) + " total, max " + ms(f.max_s);
    detail.appendChild(el("div", facts, "muted"));
    if (ev) {
      detail.appendChild(el("div", "this block: started at " + ev[0].toFixed(3) +
        " s, held the hub " + ms(ev[1]), "block"));
    }
    detail.appendChild(el("div", f.message));
    if (f.fix) detail.appendChild(el("div", "fix: " + f.fix, "fix"));
    if (f.stack.length) {
      detail.appendChild(el("div", "stack (outermost first):", "muted"));
      var ol = el("ol", null, "stack mono");
      f.stack.forEach(function (fr) {
        ol.appendChild(el("li", fr[0] + ":" + fr[1] + " in " + fr[2]));
      });
      detail.appendChild(ol);
    }
    var old = document.querySelectorAll(".sel");
    for (var k = 0; k < old.length; k++) old[k].classList.remove("sel");
    var mine = document.querySelectorAll('[data-f="' + i + '"]');
    for (var j = 0; j < mine.length; j++) mine[j].classList.add("sel");
  }
  function tipAt(e, text) {
    tip.textContent = text;
    tip.style.display = "block";
    tip.style.left = Math.min(e.clientX + 12, window.innerWidth - 300) + "px";
    tip.style.top = (e.clientY + 14) + "px";
  }
  function barOf(t) {
    return t && t.classList && t.classList.contains("bar") ? t : null;
  }
  var tl = document.getElementById("timeline-svg");
  if (tl) {
    tl.addEventListener("mousemove", function (e) {
      var b = barOf(e.target);
      if (!b) { tip.style.display = "none"; return; }
      var f = F[+b.dataset.f], ev = f.events[+b.dataset.e];
      tipAt(e, site(f) + " \u2014 " + ms(ev[1]) + " at " + ev[0].toFixed(3) + " s" +
        (f.callee ? " \u2014 " + f.callee : ""));
    });
    tl.addEventListener("mouseleave", function () { tip.style.display = "none"; });
    tl.addEventListener("click", function (e) {
      var b = barOf(e.target);
      if (b) showFinding(+b.dataset.f, F[+b.dataset.f].events[+b.dataset.e]);
    });
  }
  var zoom = 1, inner = document.getElementById("tl-inner");
  function setZoom(z) {
    zoom = Math.max(1, Math.min(z, 512));
    if (inner) inner.style.width = (zoom * 100) + "%";
    var zl = document.getElementById("zoom-level");
    if (zl) zl.textContent = "\u00d7" + zoom;
  }
  document.querySelectorAll("[data-zoom]").forEach(function (b) {
    b.addEventListener("click", function () {
      var z = b.dataset.zoom;
      setZoom(z === "fit" ? 1 : zoom * parseFloat(z));
    });
  });
  var flame = document.getElementById("flame-svg");
  if (flame) {
    flame.addEventListener("mousemove", function (e) {
      var g = e.target.closest && e.target.closest("g[data-n]");
      if (!g) { tip.style.display = "none"; return; }
      var n = D.flame[+g.dataset.n];
      tipAt(e, n[0] + " \u2014 " + ms(n[1]) + " (" + (100 * n[1] / D.blocked_s).toFixed(1) +
        "% of blocked time)");
    });
    flame.addEventListener("mouseleave", function () { tip.style.display = "none"; });
    flame.addEventListener("click", function (e) {
      var g = e.target.closest && e.target.closest("g[data-n]");
      if (!g) return;
      var n = D.flame[+g.dataset.n];
      detail.textContent = "";
      detail.appendChild(el("b", n[0]));
      detail.appendChild(el("div", ms(n[1]) + " of hub blocking passed through this frame (" +
        (100 * n[1] / D.blocked_s).toFixed(1) + "%)", "muted"));
    });
  }
  var body = document.getElementById("findings-body");
  if (!body) return;
  function cell(tr, text, cls) { tr.appendChild(el("td", text, cls)); }
  var rows = F.map(function (f, i) {
    var tr = document.createElement("tr"), where = f.short + (f.line ? ":" + f.line : "");
    var pkg = f["package"] || "your code";
    tr.dataset.f = i; tr.dataset.kind = f.kind; tr.dataset["package"] = pkg;
    tr.dataset.site = where; tr.dataset["function"] = f["function"] || "";
    tr.dataset.callee = f.callee || ""; tr.dataset.count = f.count;
    tr.dataset.total = f.total_s; tr.dataset.max = f.max_s;
    var td = document.createElement("td");
    td.appendChild(el("span", f.kind, kindClass(f.kind)));
    tr.appendChild(td);
    cell(tr, where, "mono"); cell(tr, f["function"] || ""); cell(tr, pkg);
    cell(tr, f.callee || "", "mono"); cell(tr, String(f.count), "num");
    cell(tr, (f.total_s * 1000).toFixed(1), "num"); cell(tr, (f.max_s * 1000).toFixed(1), "num");
    return tr;
  });
  // Only the rows in sight (and a margin) are in the document, between two spacer rows:
  // laying out a 10,000-row table costs seconds per change, a window of rows does not.
  var view = rows.slice(), first = -1, rowH = 25, wrap = body.closest(".table-wrap");
  function pad() {
    var tr = el("tr", null, "pad"), td = el("td");
    td.colSpan = 8; tr.appendChild(td);
    return tr;
  }
  var above = pad(), below = pad();
  function draw(force) {
    var start = Math.max(0, Math.floor(wrap.scrollTop / rowH) - 20);
    if (!force && start === first) return;
    first = start;
    var end = Math.min(view.length, start + Math.ceil(wrap.clientHeight / rowH) + 40);
    var frag = document.createDocumentFragment();
    above.style.height = (start * rowH) + "px"; frag.appendChild(above);
    for (var i = start; i < end; i++) frag.appendChild(view[i]);
    below.style.height = ((view.length - end) * rowH) + "px"; frag.appendChild(below);
    body.textContent = "";
    body.appendChild(frag);
  }
  function redraw() {
    wrap.scrollTop = 0;
    draw(true);
    if (view.length) rowH = view[0].getBoundingClientRect().height || rowH;
    draw(true);
  }
  wrap.addEventListener("scroll", function () { draw(false); });
  redraw();
  body.addEventListener("click", function (e) {
    var tr = e.target.closest("tr");
    if (tr) showFinding(+tr.dataset.f);
  });
  var sortKey = "total", sortDir = -1;
  function sortRows(key) {
    var num = key === "count" || key === "total" || key === "max";
    sortDir = key === sortKey ? -sortDir : (num ? -1 : 1);
    sortKey = key;
    rows.sort(function (a, b) {
      var x = a.dataset[key], y = b.dataset[key];
      if (num) return sortDir * (parseFloat(x) - parseFloat(y));
      return sortDir * (x < y ? -1 : x > y ? 1 : 0);
    });
    applyFilter();
  }
  document.querySelectorAll("th[data-sort]").forEach(function (th) {
    th.addEventListener("click", function () { sortRows(th.dataset.sort); });
  });
  var fk = document.getElementById("filter-kind"), fp = document.getElementById("filter-package");
  var fq = document.getElementById("filter-text"), shown = document.getElementById("shown");
  function applyFilter() {
    var k = fk.value, p = fp.value, q = fq.value.toLowerCase();
    view = rows.filter(function (r) {
      return (!k || r.dataset.kind === k) && (!p || r.dataset["package"] === p) &&
        (!q || r.textContent.toLowerCase().indexOf(q) >= 0);
    });
    shown.textContent = view.length + " of " + rows.length + " shown";
    redraw();
  }
  [fk, fp].forEach(function (s) { s.addEventListener("change", applyFilter); });
  fq.addEventListener("input", applyFilter);
  document.body.dataset.ready = "1";
})();
"""
