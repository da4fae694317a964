"""The Promela model of the SPIN benchmark (bench/spin/kho.pml) can pass and can fail.

At a tiny size (N=2 K=2), at both granularities: BUG=0 gives no assertion violation, BUG=1
gives one, and at khomc's granularity without reduction SPIN stores exactly khomc's distinct
states.  Runs only where ``spin`` and ``gcc`` are on PATH (bench/bench_vs_spin.py installs spin).
"""

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from khomc.engines.search import Search
from khomc.registry import build

PML = Path(__file__).resolve().parents[2] / "bench" / "spin" / "kho.pml"

pytestmark = pytest.mark.skipif(shutil.which("spin") is None or shutil.which("gcc") is None,
                                reason="needs spin and gcc on PATH (apt-get install -y spin)")


def pan(tmp_path, bug: int, steps: int, noreduce: bool = False) -> str:
    shutil.copy(PML, tmp_path / "kho.pml")
    subprocess.run(["spin", "-DN=2", "-DK=2", f"-DBUG={bug}", f"-DSTEPS={steps}", "-a",
                    "kho.pml"], cwd=tmp_path, check=True, capture_output=True)
    subprocess.run(["gcc", "-O0", "-DSAFETY", *(["-DNOREDUCE"] if noreduce else []),
                    "-o", "pan", "pan.c"], cwd=tmp_path, check=True, capture_output=True)
    return subprocess.run(["./pan", "-w16"], cwd=tmp_path, capture_output=True,
                          text=True).stdout


def errors(out: str) -> int:
    return int(re.search(r"errors: (\d+)", out).group(1))


@pytest.mark.parametrize("steps", [0, 1])
def test_ok_variant_has_no_violation(tmp_path, steps):
    out = pan(tmp_path, 0, steps, noreduce=bool(steps))
    assert errors(out) == 0, out
    assert "assertion violated" not in out
    if steps:
        stored = int(re.search(r"(\d+) states, stored", out).group(1))
        khomc = Search(build("spinkho", "ok", {"N": 2, "K": 2}), "bfs", graph_limit=0).run()
        assert stored == khomc.distinct


@pytest.mark.parametrize("steps", [0, 1])
def test_bug_variant_violates_the_assertion(tmp_path, steps):
    out = pan(tmp_path, 1, steps)
    assert errors(out) == 1, out
    assert re.search(r"assertion violated \(t *== *frozen_total\)", out), out
    assert (tmp_path / "kho.pml.trail").exists()
