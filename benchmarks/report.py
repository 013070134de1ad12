"""Render a results JSON (``python -m benchmarks --json PATH``) as the Markdown results tables.

Run: python -m benchmarks.report benchmarks/results.json
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.0f} ms" if seconds < 10 else f"{seconds:.1f} s"


def main_table(cases: dict) -> list[str]:
    out = ["| case | patchkit | baseline | ratio (median of pairwise) | target |",
           "|---|---|---|---|---|"]
    if "startup" in cases:
        c = cases["startup"]
        out.append(f"| 1. startup: `import patchkit; patchkit.patch_all()`, whole process "
                   f"({c['rounds']} rounds) | {_ms(c['candidate_median_s'])} | "
                   f"{_ms(c['baseline_median_s'])} (`gevent.monkey.patch_all()`) | "
                   f"{c['ratio']:.3f} | ≤ 1.05 |")
    if "hotpath" in cases:
        c = cases["hotpath"]
        out.append(f"| 2. hot path: echo, {c['round_trips']:,} loopback round trips on patched "
                   f"sockets, auditing off ({c['rounds']} rounds) | {_ms(c['candidate_median_s'])} "
                   f"({c['patchkit_trips_per_s']:,.0f}/s) | {_ms(c['baseline_median_s'])} "
                   f"({c['gevent_trips_per_s']:,.0f}/s, gevent `patch_all`) | {c['ratio']:.3f}"
                   + (f" (A/A gevent vs gevent: {c['aa_control_ratio']:.3f})"
                      if "aa_control_ratio" in c else "") + " | 1.00 ± noise |")
    if "audit" in cases:
        c = cases["audit"]
        o = c["overhead"]
        out.append(f"| 3. audit overhead: echo, {c['round_trips_per_run']:,} round trips, "
                   f"{c['clients']} clients ({c['rounds']} rounds) | {_ms(o['audit']['wall_s'])} "
                   f"under `python -m patchkit.audit` | {_ms(o['bare']['wall_s'])} bare; gevent "
                   f"monitor {_ms(o['gevent monitor']['wall_s'])} ({c['gevent_monitor_ratio']:.3f}) "
                   f"| {c['ratio']:.3f} (CPU {o['audit']['cpu_ratio']:.3f}) | ≤ 1.05 and ≤ monitor |")
        a = c["accuracy"]
        blocks = a["blocks"]
        reported = sum(1 for b in blocks if b["reported_s"] is not None)
        out.append(f"| 4. detection: {len(blocks)} blocks of 20–500 ms (sleep, ctypes usleep, CPU, "
                   f"GIL-holding regex) | {reported}/{len(blocks)} reported at their line, worst "
                   f"error {a['worst_error_ms']:.2f} ms | gevent monitor reports "
                   f"{len(a['gevent_monitor_caught'])}/{len(blocks)} | – | error ≤ 5 ms |")
    if "plugin" in cases:
        c = cases["plugin"]
        out.append(f"| 6. pytest plugin: {c['tests']} quick cooperative tests of a gevent project "
                   f"(conftest calls `gevent.monkey.patch_all()`), whole pytest process "
                   f"({c['rounds']} rounds) | {_ms(c['candidate_median_s'])} (`--patchkit`) | "
                   f"{_ms(c['baseline_median_s'])} | {c['ratio']:.3f} | ≤ 1.15 (≤ 1.10) |")
        u = c.get("unpatched_suite")
        if u:
            out.append(f"| 6b. the same tests with nothing patching them (`--patchkit` also "
                       f"patches the process) | {_ms(u['candidate_median_s'])} | "
                       f"{_ms(u['baseline_median_s'])} | {u['ratio']:.3f} | – |")
    if "static" in cases:
        c = cases["static"]
        out.append(f"| 7. static scan: {c['total_distributions']} distributions (this env + "
                   f"{c['pure_added']} synthetic pure-Python) | {_ms(c['total_scan_s'])} scan, "
                   f"{_ms(c['total_command_s'])} whole command | {_ms(c['env_scan_s'])} "
                   f"({c['env_distributions']} distributions) | {c['ratio']:.2f} | seconds |")
    return out


def scale_table(scale: dict) -> list[str]:
    out = ["| workload | N | threads: wall | threads: round trips/s | threads: peak RSS | "
           "greenlets: wall | greenlets: round trips/s | greenlets: peak RSS | "
           "throughput ×, wall × (greenlets better > 1) |",
           "|---|---|---|---|---|---|---|---|---|"]
    for r in scale["rows"]:
        echo = r["workload"] == "echo"
        label = (f"echo ×{r['trips_per_client']}, {r['server_delay_s'] * 1000:g} ms delay" if echo
                 else f"sleep ×{r['sleeps_per_task']} × {r['sleep_s'] * 1000:g} ms")
        cells = []
        for side in ("threads", "greenlets"):
            errors = r.get(f"{side}_failures")
            stopped = r.get(f"{side}_timed_out")
            cells += [f"{r[side + '_wall_s']:.2f} s"
                      + (f" (incomplete in {stopped}/{r['rounds']} runs)" if stopped else ""),
                      f"{r[side + '_trips_per_s']:,.0f}" if echo else "–",
                      f"{r[side + '_peak_rss_mib']:.0f} MiB" + (f" ({errors} errors)" if errors else "")]
        ratio = (f"{r['throughput_ratio']:.2f}, {r['wall_ratio']:.2f}" if echo
                 else f"–, {r['wall_ratio']:.2f}")
        out.append(f"| {label} | {r['n']:,} | " + " | ".join(cells) + f" | {ratio} |")
    return out


def accuracy_table(audit: dict) -> list[str]:
    out = ["| block | measured | reported by patchkit.audit | error | gevent monitor reports |",
           "|---|---|---|---|---|"]
    for b in audit["accuracy"]["blocks"]:
        reported = f"{b['reported_s'] * 1000:.2f} ms" if b["reported_s"] is not None else "missed"
        error = f"{b['error_ms']:.2f} ms" if b["error_ms"] is not None else "–"
        seen = b["gevent_monitor_reports"]
        out.append(f"| `{b['block']}` | {b['measured_s'] * 1000:.2f} ms | {reported} | {error} | "
                   f"{seen if seen else 'missed'} |")
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("results", type=Path)
    args = parser.parse_args(argv)
    data = json.loads(args.results.read_text())
    cases = data["cases"]
    print("\n".join(main_table(cases)))
    if "scale" in cases and "rows" in cases["scale"]:
        print()
        print("\n".join(scale_table(cases["scale"])))
    if "audit" in cases and "accuracy" in cases["audit"]:
        print()
        print("\n".join(accuracy_table(cases["audit"])))


if __name__ == "__main__":
    main()
