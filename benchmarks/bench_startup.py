"""Whole-process cost of patching: patchkit.patch_all() vs gevent.monkey.patch_all().

Run: python -m benchmarks.bench_startup [--quick]
Target: ratio <= 1.10 (issue 2), <= 1.05 (issue 6); gevent is the floor (1.00).
patchkit is compiled to bytecode first, as an installed package would be.
"""

from __future__ import annotations

import argparse

from ._common import PY, comparison_dict, compile_patchkit, interleave, time_command

PATCHKIT = [PY, "-c", "import patchkit; patchkit.patch_all()"]
GEVENT = [PY, "-c", "from gevent import monkey; monkey.patch_all()"]
BARE = [PY, "-c", "pass"]


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer rounds, for CI smoke")
    args = parser.parse_args(argv)
    rounds = 6 if args.quick else 40
    compile_patchkit()  # gevent is installed as bytecode; compare like with like
    result = interleave("patchkit.patch_all()", "gevent.monkey.patch_all()",
                        lambda: time_command(GEVENT), lambda: time_command(PATCHKIT), rounds)
    bare = sorted(time_command(BARE) for _ in range(max(3, rounds // 4)))[0]
    print(f"startup (whole process; bare interpreter {bare * 1000:.1f} ms)")
    print(result.line())
    return comparison_dict(result, target="<= 1.05 (goal 1.00)", bare_interpreter_s=bare)


if __name__ == "__main__":
    main()
