"""Shared helpers: interleaved side-by-side timing, medians and pairwise ratios."""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from typing import Callable, Sequence


@dataclass
class Comparison:
    """Interleaved timings of a candidate against its baseline."""

    name: str
    baseline: str
    base_times: list[float]
    cand_times: list[float]

    @property
    def ratio_of_medians(self) -> float:
        return statistics.median(self.cand_times) / statistics.median(self.base_times)

    @property
    def median_pairwise_ratio(self) -> float:
        return statistics.median(c / b for b, c in zip(self.base_times, self.cand_times))

    def line(self, unit: str = "ms", scale: float = 1000.0) -> str:
        b = statistics.median(self.base_times) * scale
        c = statistics.median(self.cand_times) * scale
        return (f"{self.name:<34} {c:9.1f} {unit} vs {self.baseline:<28} {b:9.1f} {unit}  "
                f"ratio {self.ratio_of_medians:5.3f} (median pairwise {self.median_pairwise_ratio:5.3f},"
                f" n={len(self.base_times)})")


def time_command(argv: Sequence[str]) -> float:
    start = time.perf_counter()
    subprocess.run(argv, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def interleave(name: str, baseline: str, run_base: Callable[[], float],
               run_cand: Callable[[], float], rounds: int, warmup: int = 2) -> Comparison:
    """Alternate baseline and candidate *rounds* times (order flipped every round)."""
    for _ in range(warmup):
        run_base()
        run_cand()
    base: list[float] = []
    cand: list[float] = []
    for i in range(rounds):
        if i % 2:
            cand.append(run_cand())
            base.append(run_base())
        else:
            base.append(run_base())
            cand.append(run_cand())
    return Comparison(name, baseline, base, cand)


PY = sys.executable


def compile_patchkit() -> None:
    """Write patchkit's bytecode, as installing it from a wheel would.

    A development checkout is an editable install, and with PYTHONDONTWRITEBYTECODE set
    every run would compile patchkit from source while gevent and pytest load bytecode.
    """
    import compileall
    import os

    import patchkit

    compileall.compile_dir(os.path.dirname(patchkit.__file__), quiet=1)


def comparison_dict(result: Comparison, target: str | None = None, **extra: object) -> dict:
    """A case's machine-readable result: medians (s), median pairwise ratio, raw samples."""
    return {
        "name": result.name,
        "baseline": result.baseline,
        "candidate_median_s": statistics.median(result.cand_times),
        "baseline_median_s": statistics.median(result.base_times),
        "ratio": result.median_pairwise_ratio,
        "ratio_of_medians": result.ratio_of_medians,
        "rounds": len(result.base_times),
        "target": target,
        "candidate_s": result.cand_times,
        "baseline_s": result.base_times,
        **extra,
    }


def raise_nofile() -> int:
    """Raise this process's open-file soft limit to its hard limit; return the new limit."""
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        return hard
    return soft


def peak_rss_mib() -> float:
    """This process's peak resident set size in MiB (Linux reports ru_maxrss in KiB)."""
    import resource

    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return rss / (1024 * 1024) if sys.platform == "darwin" else rss / 1024
