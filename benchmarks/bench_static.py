"""How long the native-extension scan takes (python -m patchkit.static).

Run: python -m benchmarks.bench_static [--quick] [--pure N] [PATH ...]

Measures, as the median of several rounds (the OS file cache warm after the first):
  1. this environment: every distribution on sys.path, its shared objects parsed;
  2. the same plus N synthetic pure-Python distributions (default 300) in a temp
     site-packages, to show what skipping pure-Python distributions costs at scale;
  3. each PATH given (another site-packages or virtualenv), if any;
and the whole command once per case (interpreter start, imports, scan, JSON written; not
with --quick). The ratio is case 2's scan time over case 1's.
Target (issue 5): a site-packages of a few hundred distributions in seconds.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from patchkit.static import scan
from patchkit.static.model import ScanReport

METADATA = "Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n"


def make_pure_site(folder: Path, count: int, modules: int = 40) -> None:
    """Write *count* installed pure-Python distributions (metadata and RECORD only)."""
    for i in range(count):
        name = f"purepkg{i:04d}"
        info = folder / f"{name}-1.0.dist-info"
        info.mkdir(parents=True)
        (info / "METADATA").write_text(METADATA.format(name=name))
        (info / "WHEEL").write_text("Wheel-Version: 1.0\nRoot-Is-Purelib: true\n")
        lines = [f"{name}/mod{j}.py,sha256=x,100" for j in range(modules)]
        lines += [f"{name}-1.0.dist-info/{f},," for f in ("METADATA", "WHEEL", "RECORD")]
        (info / "RECORD").write_text("\n".join(lines) + "\n")


def _site_packages() -> list[str]:
    return [p for p in sys.path if p.endswith(("site-packages", "dist-packages"))]


def measure(paths: list[str] | None, rounds: int) -> tuple[ScanReport, float]:
    """The last report and the median scan time over *rounds* fresh scans."""
    times, report = [], None
    for _ in range(rounds):
        start = time.perf_counter()
        report = scan(paths)
        times.append(time.perf_counter() - start)
    assert report is not None
    return report, statistics.median(times)


def whole_command(paths: list[str] | None, out: Path) -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "patchkit.static", "--json", str(out), *(paths or [])],
                   check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def line(label: str, report: ScanReport, seconds: float, command: float) -> str:
    s = report.summary
    return (f"{label:<38} {s.distributions:5d} dists {s.with_native_code:4d} native "
            f"{s.elf_files:5d} .so {len(report.findings):3d} flagged  scan {seconds:6.3f} s  "
            f"command {command:6.3f} s")


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("paths", nargs="*", metavar="PATH", help="extra folders to measure")
    parser.add_argument("--quick", action="store_true", help="one round each, for CI smoke")
    parser.add_argument("--pure", type=int, default=300, metavar="N",
                        help="synthetic pure-Python distributions to add (default 300)")
    args = parser.parse_args(argv)
    rounds = 1 if args.quick else 5
    print(f"native-extension scan (Python {sys.version.split()[0]}, median of {rounds})")
    with tempfile.TemporaryDirectory(prefix="patchkit-bench-static-") as temp:
        out = Path(temp) / "scan.json"
        report, seconds = measure(None, rounds)
        command = float("nan") if args.quick else whole_command(None, out)
        print(line("this environment (sys.path)", report, seconds, command))
        figures = {"env_distributions": report.summary.distributions, "env_scan_s": seconds,
                   "env_command_s": command}
        pure = Path(temp) / "site-packages"
        make_pure_site(pure, args.pure)
        paths = [str(pure), *_site_packages()]
        report, pure_seconds = measure(paths, rounds)
        command = float("nan") if args.quick else whole_command(paths, out)
        print(line(f"+ {args.pure} pure-Python distributions", report, pure_seconds, command))
        figures.update(pure_added=args.pure, total_distributions=report.summary.distributions,
                       total_scan_s=pure_seconds, total_command_s=command)
        for path in args.paths:
            report, seconds = measure([path], rounds)
            print(line(path[-38:], report, seconds, whole_command([path], out)))
    ratio = figures["total_scan_s"] / figures["env_scan_s"]
    print(f"  {figures['total_distributions']} distributions scanned in "
          f"{figures['total_scan_s']:.3f} s: ratio {ratio:.2f} vs this environment alone "
          f"({figures['env_distributions']} distributions, {figures['env_scan_s']:.3f} s)")
    return {"name": f"scan + {args.pure} pure-Python distributions",
            "baseline": "scan of this environment alone", "ratio": ratio,
            "target": "a few hundred distributions in seconds", **figures}


if __name__ == "__main__":
    main()
