"""The auditor never reports itself: its own frames are no finding's site, callee or stack.

From Python 3.13 ``time.sleep`` raises an audit event, so the auditor's audit hook runs
on the hub's thread inside the program's blocking call, and the sampler can look while
it does.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

import patchkit

from .conftest import only

PATCHKIT_DIR = str(Path(patchkit.__file__).resolve().parent)

# The call's source spans thousands of tokens, so the audit hook's first look at the line
# (reading the called expression from its tokens) computes for about 100 ms inside the
# program's call to the original sleep: many looks by the sampler land in the hook.
_WIDE_ARGUMENT = "\n".join("            " + "0, " * 100 for _ in range(100))
TARGET = f'''\
from time import sleep  # bound before patching: the original, which blocks the hub

import patchkit

patchkit.patch_all()

import gevent  # noqa: E402


def nap():
    for _ in range(3):
        sleep((0.03,
{_WIDE_ARGUMENT}
               )[0])
        gevent.sleep(0.01)


gevent.spawn(nap).join()
'''


@pytest.mark.skipif(sys.version_info < (3, 13), reason="time.sleep raises an audit event from 3.13")
@pytest.mark.parametrize("exact", [False, True])
def test_audit_hook_running_inside_a_blocking_call_is_not_reported(audit, tmp_path, exact):
    target = tmp_path / "slow_hook.py"
    target.write_text(TARGET)
    run = audit(*["--exact"] * exact, str(target))
    assert run.returncode == 0, run.stderr
    block = only(run.findings("blocking"), function="nap", line=12)
    assert block["callee"] == "time.sleep" and [f["function"] for f in block["stack"]] == ["nap"]
    # The hook's first reading of the wide call takes ~100 ms inside the first sleep, and
    # its time is not taken out of the block: a block no sample saw (a loaded machine kept
    # the sampler off the CPU through it) is placed where the greenlet yielded next, the
    # gevent.sleep below -- never at the auditor's frames.
    elsewhere = [f for f in run.findings("blocking") if f is not block]
    assert all(f["callee"] == "gevent.hub.sleep" for f in elsewhere), elsewhere
    assert block["count"] + sum(f["count"] for f in elsewhere) >= 3, run.findings()
    for finding in run.findings():
        assert not (finding["callee"] or "").startswith("patchkit"), finding
        assert not (finding["file"] or "").startswith(PATCHKIT_DIR), finding
        assert not any(f["file"].startswith(PATCHKIT_DIR) for f in finding["stack"]), finding
