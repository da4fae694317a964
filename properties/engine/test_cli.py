"""The command line: exit codes, tables, saved traces, JSON, bad input, Ctrl-C."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from khomc.cli import main

REPO = Path(__file__).resolve().parents[2]


def khomc(*args, cwd=None):
    """Run the CLI in-process: (exit code, stdout, stderr)."""
    import io
    out, err = io.StringIO(), io.StringIO()
    old = sys.stderr
    sys.stderr = err
    old_cwd = os.getcwd()
    try:
        if cwd:
            os.chdir(cwd)
        code = main(list(args), out=out)
    finally:
        sys.stderr = old
        os.chdir(old_cwd)
    return code, out.getvalue(), err.getvalue()


def test_list():
    code, out, _ = khomc("list")
    assert code == 0
    assert "counter:" in out and "racy" in out and "spinkho:" in out and "N=3[1..6] K=3[1..8]" in out


def test_check_racy_is_violated_and_saves_a_trace(tmp_path):
    code, out, _ = khomc("check", "counter", "racy", "--trace-dir", str(tmp_path))
    assert code == 1
    assert "no-lost-update" in out and "VIOLATED" in out
    saved = tmp_path / "counter-racy-no-lost-update.json"
    assert saved.exists() and f"trace: {saved}" in out
    code, out, _ = khomc("replay", str(saved))
    assert code == 1
    assert "VIOLATED reproduced in 4 steps" in out
    assert "read count → 0" in out


def test_check_locked_holds_with_pinned_counts(tmp_path):
    code, out, _ = khomc("check", "counter", "locked", "--trace-dir", str(tmp_path))
    assert code == 0
    assert "16 distinct states, 16 transitions" in out
    assert "VIOLATED" not in out and "engine bfs (exhaustive)" in out


def test_parameters_and_json(tmp_path):
    code, out, _ = khomc("check", "spinkho", "ok", "-D", "N=2", "-D", "K=2", "--json",
                         "--trace-dir", str(tmp_path))
    assert code == 0
    (res,) = json.loads(out)
    assert res["distinct_states"] == 333 and res["transitions"] == 708
    assert res["params"] == {"N": 2, "K": 2} and res["verdict"] == "HOLDS"
    assert {p["name"]: p["verdict"] for p in res["properties"]}["kexec-reached"] == "HOLDS"


def test_budget_gives_unknown_exit_3(tmp_path):
    code, out, _ = khomc("check", "spinkho", "ok", "--max-states", "50", "--trace-dir",
                         str(tmp_path))
    assert code == 3
    assert "stopped: max-states" in out and "UNKNOWN" in out


def test_dfs_engine(tmp_path):
    code, out, _ = khomc("check", "counter", "locked", "--engine", "dfs", "--trace-dir",
                         str(tmp_path))
    assert code == 0 and "engine dfs" in out


def test_whole_spec_checks_its_default_scenarios(tmp_path):
    code, out, _ = khomc("check", "counter", "--trace-dir", str(tmp_path))
    assert code == 1
    for sc in ("racy", "locked", "abba", "spin"):
        assert f"khomc check counter {sc}" in out


@pytest.mark.parametrize("args,says", [
    (["check", "nosuch"], "unknown spec 'nosuch'; known specs: counter, spinkho"),
    (["check", "counter", "nosuch"], "unknown scenario 'nosuch' of spec 'counter'; known: racy"),
    (["check", "counter", "racy", "--engine", "magic"], "invalid choice: 'magic'"),
    (["check", "counter", "racy", "--frobnicate"], "unrecognized arguments: --frobnicate"),
    (["check", "counter", "racy", "-D", "M=3"], "has no parameter 'M' (it has: N)"),
    (["check", "counter", "racy", "-D", "N=x"], "parameter N must be an integer in 1..8"),
    (["check", "counter", "racy", "-D", "N"], "-D expects NAME=VALUE"),
    (["check", "counter", "racy", "--max-states", "-5"], "must be positive"),
    (["check", "counter", "racy", "--por", "--checkpoint", "x.ckpt"],
     "--por cannot be checkpointed"),
    (["frobnicate"], "invalid choice: 'frobnicate'"),
    ([], "required: command"),
])
def test_bad_usage_is_one_line_and_exit_2(args, says):
    code, out, err = khomc(*args)
    assert code == 2
    assert says in err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err


def _trace_file(tmp_path):
    khomc("check", "counter", "racy", "--trace-dir", str(tmp_path))
    return tmp_path / "counter-racy-no-lost-update.json"


@pytest.mark.parametrize("mutate,says", [
    (lambda text: text[: len(text) // 2], "corrupt or truncated JSON"),
    (lambda text: "\x00\x01garbage", "corrupt or truncated JSON"),
    (lambda text: text.replace('"version": 1', '"version": 2'), "version 2 is not supported"),
    (lambda text: text.replace('"spec": "counter"', '"spec": "nosuch"'),
     "mismatched trace: unknown spec 'nosuch'"),
    (lambda text: text.replace('"scenario": "racy"', '"scenario": "gone"'),
     "mismatched trace: unknown scenario 'gone'"),
    (lambda text: text.replace('"steps"', '"stepz"'), "malformed trace"),
])
def test_bad_trace_files_exit_2_with_one_line(tmp_path, mutate, says):
    path = _trace_file(tmp_path)
    path.write_text(mutate(path.read_text()))
    code, out, err = khomc("replay", str(path))
    assert code == 2
    assert says in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_missing_trace_file(tmp_path):
    code, _, err = khomc("replay", str(tmp_path / "nope.json"))
    assert code == 2 and "cannot read" in err


def test_divergent_trace_exits_3_naming_the_step(tmp_path):
    path = _trace_file(tmp_path)
    d = json.loads(path.read_text())
    d["steps"][1]["effects"][0]["label"] = "write count := 9"
    path.write_text(json.dumps(d))
    code, out, _ = khomc("replay", str(path), "--quiet")
    assert code == 3
    assert "DIVERGED at step 2" in out and "write count := 9" in out


def test_ctrl_c_prints_what_was_reached_and_exits_130(tmp_path):
    proc = subprocess.Popen(
        [sys.executable, "-m", "khomc.cli", "check", "spinkho", "bug", "-D", "N=5", "-D", "K=6",
         "--no-progress", "--trace-dir", str(tmp_path)],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(3.0)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, (out, err)
    assert "stopped: interrupted" in out
    assert "distinct states" in out and "UNKNOWN" in out
    # the violation found before Ctrl-C is kept, with its trace
    assert "assertions" in out and "VIOLATED" in out
    assert "Traceback" not in err


def _console_script() -> Path:
    script = Path(sys.executable).parent / "khomc"
    assert script.exists(), "khomc is not installed in this environment (pip install -e .)"
    return script


def test_console_script_runs_from_a_folder_with_its_own_model_and_khomc_packages(tmp_path):
    """The installed command imports the installed package: a model/ or khomc/ package in the
    current folder (a user's own project) is not picked up, and nothing is re-executed."""
    for pkg in ("model", "khomc"):
        (tmp_path / pkg).mkdir()
        (tmp_path / pkg / "__init__.py").write_text("raise SystemExit('shadowed: wrong package')\n")
        (tmp_path / pkg / "cli.py").write_text("raise SystemExit('shadowed: wrong package')\n")
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONHASHSEED", "PYTHONPATH")}
    done = subprocess.run([str(_console_script()), "check", "counter", "racy", "--no-progress",
                           "--trace-dir", str(tmp_path / "t")], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 1, done.stderr
    assert "no-lost-update" in done.stdout and "shadowed" not in done.stderr
    assert (tmp_path / "t" / "counter-racy-no-lost-update.json").exists()


def test_entry_does_not_re_exec(monkeypatch):
    import khomc.cli as cli
    monkeypatch.delenv("PYTHONHASHSEED", raising=False)
    monkeypatch.setattr(os, "execv", lambda *a: (_ for _ in ()).throw(AssertionError("execv")))
    monkeypatch.setattr(sys, "argv", ["khomc", "list"])
    with pytest.raises(SystemExit) as exc:
        cli.entry()
    assert exc.value.code == 0


def test_pytest_is_not_a_runtime_dependency():
    import tomllib
    meta = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    assert not any(d.split(">")[0].split("=")[0].strip() == "pytest"
                   for d in meta["dependencies"])
    assert any(d.startswith("pytest") for d in meta["optional-dependencies"]["test"])


def test_corpus_traces_replay_under_any_hash_seed():
    """Without a fixed PYTHONHASHSEED (the console script no longer sets one), a trace written
    by one process replays in another: every corpus trace reproduces under two other seeds."""
    corpus = sorted((REPO / "traces" / "corpus").glob("*.json"))
    assert len(corpus) >= 20
    script = ("import sys, io\nfrom khomc.cli import main\n"
              "codes = [main(['replay', '--quiet', p], out=io.StringIO()) for p in sys.argv[1:]]\n"
              "print(' '.join(map(str, codes)))\n")
    for seed in ("7", "31337"):
        env = dict(os.environ, PYTHONHASHSEED=seed)
        done = subprocess.run([sys.executable, "-c", script] + [str(p) for p in corpus],
                              cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, done.stderr
        assert done.stdout.split() == ["1"] * len(corpus), (seed, done.stdout)


def test_whole_spec_checks_symmetric_defaults_up_to_symmetry(tmp_path):
    """A default scenario the review checks up to symmetry is checked so by ``khomc check
    SPEC`` too; split over partitions (which do not reduce) it runs plain instead of
    tripping over the partitions' refusal of --symmetry."""
    code, out, err = khomc("check", "v5-anchor", "--max-states", "40", "--no-progress",
                           "--trace-dir", str(tmp_path))
    assert "khomc check v5-anchor three-preservers" in out
    assert "reductions: symmetry" in out.split("three-preservers", 1)[1]
    code, out, err = khomc("check", "v5-anchor", "--max-states", "40", "--no-progress",
                           "--partitions", "2", "--trace-dir", str(tmp_path))
    assert "cannot be combined" not in err and "three-preservers" in out
