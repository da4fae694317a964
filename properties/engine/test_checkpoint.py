"""Checkpoints: a search stopped (budget, Ctrl-C) resumes to the same verdicts and counts."""

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from khomc.cli import main
from khomc.engines.checkpoint import CheckpointError, load
from khomc.engines.result import Bounds
from khomc.engines.search import Search, check
from khomc.registry import build

REPO = Path(__file__).resolve().parents[2]


def summary(r):
    return (r.distinct, r.transitions, {p.name: (p.verdict, len(p.trace.steps) if p.trace else 0)
                                        for p in r.properties})


@pytest.mark.parametrize("compact", [False, True])
@pytest.mark.parametrize("spec,scenario,params", [
    ("spinkho", "ok", {"N": 3, "K": 3}), ("spinkho", "bug", {"N": 3, "K": 2}),
    ("counter", "spin", {}),
])
def test_resume_reproduces_an_uninterrupted_run(tmp_path, spec, scenario, params, compact):
    whole = check(build(spec, scenario, params), compact=compact)
    ck = tmp_path / "search.ckpt"
    first = Search(build(spec, scenario, params), bounds=Bounds(max_states=max(2, whole.distinct // 3)),
                   compact=compact, checkpoint=str(ck)).run()
    assert first.stop == "max-states" and ck.exists()
    resumed = Search.resume(str(ck)).run()
    assert resumed.exhaustive
    assert summary(resumed) == summary(whole)


def test_resume_twice_in_a_row(tmp_path):
    whole = check(build("spinkho", "ok", {"N": 3, "K": 3}))
    ck = tmp_path / "s.ckpt"
    Search(build("spinkho", "ok", {"N": 3, "K": 3}), bounds=Bounds(max_states=1000),
           checkpoint=str(ck)).run()
    Search.resume(str(ck), bounds=Bounds(max_states=4000)).run()
    assert summary(Search.resume(str(ck)).run()) == summary(whole)


@pytest.mark.parametrize("content,why", [
    (b"", "corrupt or truncated"), (b"\x80\x04garbage", "pickles are not loaded"),
])
def test_bad_checkpoints(tmp_path, content, why):
    p = tmp_path / "bad.ckpt"
    p.write_bytes(content)
    with pytest.raises(CheckpointError, match=why):
        load(p)
    code = main(["check", "spinkho", "ok", "--resume", str(p)])
    assert code == 2


def test_ctrl_c_writes_a_checkpoint_and_resume_finishes(tmp_path):
    ck = tmp_path / "ctrlc.ckpt"
    args = ["check", "spinkho", "ok", "-D", "N=4", "-D", "K=4", "--no-progress",
            "--trace-dir", str(tmp_path), "--checkpoint", str(ck), "--checkpoint-every", "1"]
    proc = subprocess.Popen([sys.executable, "-m", "khomc.cli"] + args, cwd=REPO,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(2.5)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert ck.exists() and "interrupted" in out
    done = subprocess.run([sys.executable, "-m", "khomc.cli", "check", "spinkho", "ok",
                           "--resume", str(ck), "--no-progress", "--trace-dir", str(tmp_path)],
                          cwd=REPO, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "304,375 distinct states, 1,067,750 transitions" in done.stdout
