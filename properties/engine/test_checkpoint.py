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
    """SIGINT once the first checkpoint is on disk (not after a fixed sleep: a faster engine
    finished N=4 K=4 before a 2.5 s sleep ran out, and CI saw exit code 0)."""
    ck = tmp_path / "ctrlc.ckpt"
    args = ["check", "spinkho", "ok", "-D", "N=4", "-D", "K=6", "--no-progress",
            "--trace-dir", str(tmp_path), "--checkpoint", str(ck), "--checkpoint-every", "1"]
    proc = subprocess.Popen([sys.executable, "-m", "khomc.cli"] + args, cwd=REPO,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while not ck.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert proc.poll() is None, "the search ended before its first checkpoint"
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert ck.exists() and "interrupted" in out
    done = subprocess.run([sys.executable, "-m", "khomc.cli", "check", "spinkho", "ok",
                           "--resume", str(ck), "--no-progress", "--trace-dir", str(tmp_path)],
                          cwd=REPO, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    assert "1,169,287 distinct states, 4,102,966 transitions" in done.stdout


def _run(args, cwd, env_extra=None, timeout=300):
    import os
    env = dict(os.environ)
    env.pop("PYTHONHASHSEED", None)
    env.update(env_extra or {})
    return subprocess.run([sys.executable, "-m", "khomc.cli"] + args, cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=timeout)


@pytest.mark.parametrize("compact", [False, True])
def test_a_checkpoint_resumes_under_another_hash_seed(tmp_path, compact):
    """Nothing in the file depends on PYTHONHASHSEED: written under one seed, resumed under
    another, the counts are those of an uninterrupted run (string hashes differ between the
    two processes, so stored fingerprints would not match)."""
    ck = tmp_path / "seed.ckpt"
    extra = ["--compact"] if compact else []
    first = _run(["check", "spinkho", "bug", "-D", "N=3", "-D", "K=2", "--max-states", "3000",
                  "--checkpoint", str(ck), "--no-progress", "--trace-dir", str(tmp_path)] + extra,
                 REPO, {"PYTHONHASHSEED": "1"})
    assert first.returncode == 1 and ck.exists(), first.stderr     # a violation is found early
    done = _run(["check", "spinkho", "bug", "--resume", str(ck), "--no-progress", "--json",
                 "--trace-dir", str(tmp_path)], REPO, {"PYTHONHASHSEED": "2"})
    assert done.returncode == 1, done.stderr
    import json
    (res,) = json.loads(done.stdout)
    whole = check(build("spinkho", "bug", {"N": 3, "K": 2}))
    assert (res["distinct_states"], res["transitions"]) == (whole.distinct, whole.transitions)
    assert not ck.exists()                  # the finished search removed its checkpoint


def test_the_checkpoint_holds_no_pickle_and_a_checksum(tmp_path):
    import hashlib
    ck = tmp_path / "f.ckpt"
    Search(build("spinkho", "ok", {"N": 2, "K": 2}), bounds=Bounds(max_states=100),
           checkpoint=str(ck)).run()
    head, body = ck.read_bytes().split(b"\n", 1)
    fmt, version, digest, length = head.decode().split()
    assert (fmt, version) == ("khomc-checkpoint", "2") and int(length) == len(body)
    assert digest == "sha256=" + hashlib.sha256(body).hexdigest()
    import json
    import zlib
    data = json.loads(zlib.decompress(body))
    assert data["spec"] == "spinkho" and data["parent"]["n"] == 100


def test_a_changed_model_is_refused_on_resume(tmp_path, monkeypatch):
    """The digest of sampled states catches a model whose steps rebuild other states."""
    ck = tmp_path / "m.ckpt"
    Search(build("spinkho", "ok", {"N": 2, "K": 2}), bounds=Bounds(max_states=200),
           checkpoint=str(ck)).run()
    from khomc.engines import checkpoint
    real = checkpoint._state_view
    monkeypatch.setattr(checkpoint, "_state_view", lambda s, st: (real(s, st), "changed"))
    with pytest.raises(CheckpointError, match="does not match this spec"):
        Search.resume(str(ck))


def test_stale_temporaries_are_cleaned_and_a_finished_run_removes_its_checkpoint(tmp_path):
    ck = tmp_path / "s.ckpt"
    stale = tmp_path / "s.ckpt.999999999.tmp"      # no such pid: a writer killed mid-write
    stale.write_bytes(b"khomc-checkpoint 2 sha256=00 99\npartial")
    live = tmp_path / f"s.ckpt.{__import__('os').getpid()}.tmp"
    code = main(["check", "counter", "racy", "--checkpoint", str(ck), "--no-progress",
                 "--trace-dir", str(tmp_path)])
    assert code == 1
    assert not stale.exists() and not ck.exists() and not live.exists()
    assert list(tmp_path.glob("s.ckpt*")) == []


def test_sigkill_mid_run_then_resume(tmp_path):
    """SIGKILL (no handler runs) leaves at most the last complete checkpoint and maybe a
    temporary; the next run cleans the temporary and resumes from the checkpoint."""
    ck = tmp_path / "k.ckpt"
    args = ["check", "spinkho", "ok", "-D", "N=4", "-D", "K=4", "--no-progress",
            "--trace-dir", str(tmp_path), "--checkpoint", str(ck), "--checkpoint-every", "0.2"]
    proc = subprocess.Popen([sys.executable, "-m", "khomc.cli"] + args, cwd=REPO,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 60
    while not ck.exists() and time.time() < deadline:
        time.sleep(0.2)
    time.sleep(0.5)
    proc.kill()
    proc.communicate(timeout=60)
    assert ck.exists()
    (tmp_path / f"k.ckpt.{proc.pid}.tmp").write_bytes(b"half a checkpoint")   # as if mid-write
    done = _run(["check", "spinkho", "ok", "--resume", str(ck), "--no-progress",
                 "--trace-dir", str(tmp_path)], REPO)
    assert done.returncode == 0, done.stderr
    assert "304,375 distinct states, 1,067,750 transitions" in done.stdout
    assert list(tmp_path.glob("k.ckpt*")) == []
