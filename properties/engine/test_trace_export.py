"""Trace exports: Apalache ITF JSON of replayed runs, and generated pytest regression tests."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from khomc.cli import main
from khomc.registry import build
from khomc.trace import Trace, replay
from khomc.trace_against import replay_against
from khomc.trace_export import itf, itf_value, pytest_source

CORPUS = Path(__file__).resolve().parents[2] / "traces" / "corpus"


def valid_itf_value(v, where="value"):
    """ADR-015's grammar of values (plus Quint's variants), or an AssertionError saying where."""
    if isinstance(v, (bool, str)):
        return
    if isinstance(v, int):
        assert abs(v) < 2 ** 53, f"{where}: {v} needs #bigint"
        return
    if isinstance(v, list):
        for i, x in enumerate(v):
            valid_itf_value(x, f"{where}[{i}]")
        return
    assert isinstance(v, dict), f"{where}: {type(v).__name__} is not an ITF value"
    keys = set(v)
    if keys == {"#bigint"}:
        assert isinstance(v["#bigint"], str) and v["#bigint"].lstrip("-").isdigit(), where
    elif keys in ({"#tup"}, {"#set"}):
        (k,) = keys
        assert isinstance(v[k], list), where
        for i, x in enumerate(v[k]):
            valid_itf_value(x, f"{where}.{k}[{i}]")
    elif keys == {"#map"}:
        for i, pair in enumerate(v["#map"]):
            assert isinstance(pair, list) and len(pair) == 2, f"{where}: map entry {pair!r}"
            valid_itf_value(pair[0], f"{where}.key[{i}]")
            valid_itf_value(pair[1], f"{where}.value[{i}]")
    elif keys == {"#unserializable"}:
        assert isinstance(v["#unserializable"], str), where
    elif keys == {"tag", "value"}:
        assert isinstance(v["tag"], str), where
        valid_itf_value(v["value"], f"{where}.value")
    else:                                        # a record
        for k, x in v.items():
            assert not k.startswith("#"), f"{where}: unknown ITF form {k!r}"
            valid_itf_value(x, f"{where}.{k}")


def valid_itf(doc, n_states):
    assert doc["#meta"]["format"] == "ITF" and "015adr-trace" in doc["#meta"]["format-description"]
    assert len(doc["states"]) == n_states
    for i, st in enumerate(doc["states"]):
        assert st["#meta"] == {"index": i}
        assert set(st) - {"#meta"} == set(doc["vars"]), f"state {i}: vars differ"
        for var in doc["vars"]:
            valid_itf_value(st[var], f"state {i} {var}")


def decode(v):
    """ITF back to Python, for the forms the counter uses."""
    if isinstance(v, dict) and "#tup" in v:
        return tuple(decode(x) for x in v["#tup"])
    if isinstance(v, dict) and "#set" in v:
        return frozenset(decode(x) for x in v["#set"])
    if isinstance(v, dict) and "#bigint" in v:
        return int(v["#bigint"])
    if v == {"tag": "None", "value": {}}:
        return None
    return v


def test_itf_value_forms():
    assert itf_value(2 ** 53 - 1) == 2 ** 53 - 1 and itf_value(-(2 ** 60)) == {"#bigint": str(-(2 ** 60))}
    assert itf_value(True) is True and itf_value("x") == "x"
    assert itf_value({(1, 2): frozenset()}) == {"#map": [[{"#tup": [1, 2]}, {"#set": []}]]}
    assert itf_value([1, None]) == [1, {"tag": "None", "value": {}}]
    assert itf_value(len) == {"#unserializable": "len"}
    assert decode(itf_value((1, frozenset({2, 3}), 2 ** 70, None))) == (1, frozenset({2, 3}),
                                                                          2 ** 70, None)


@pytest.mark.parametrize("name", sorted(p.name for p in CORPUS.glob("*.json")))
def test_every_corpus_trace_exports_valid_itf(name):
    t = Trace.load(CORPUS / name)
    model = build(t.spec, t.scenario, t.params)
    r = replay(t, model)
    doc = json.loads(json.dumps(itf(t, model, r.states, t.steps, t.loop_start)))
    valid_itf(doc, len(t.steps) + 1)
    assert doc["states"][0]["khomc::step"] == "init"
    assert doc["states"][1]["khomc::step"].startswith(t.steps[0].task + ": ")
    if t.loop_start is not None:
        assert doc["loop"] == t.loop_start


def test_itf_states_are_the_replayed_values(tmp_path):
    path = tmp_path / "racy.itf.json"
    assert main(["replay", str(CORPUS / "counter-racy-no-lost-update.json"), "--quiet",
                 "--itf", str(path)]) == 1
    doc = json.loads(path.read_text())
    valid_itf(doc, 5)
    assert [decode(s["count"]) for s in doc["states"]] == [0, 0, 0, 1, 1]   # the lost update
    assert doc["states"][-1]["khomc::pending"] == {"#map": [["inc0", "finished"],
                                                            ["inc1", "finished"]]}


def test_itf_of_a_run_against_another_era(tmp_path):
    path = tmp_path / "gone.itf.json"
    trace = CORPUS / "k6-16-double-restore-restore-at-most-once.json"
    assert main(["replay", str(trace), "--against", "k6.18", "--quiet", "--itf",
                 str(path)]) == 0
    doc = json.loads(path.read_text())
    r = replay_against(Trace.load(trace), "k6.18")
    valid_itf(doc, len(r.states))
    assert doc["#meta"]["khomc"]["spec"] == "k6.18" and "against k6.18" in doc["#meta"]["source"]


def test_unwritable_export_paths_are_refused_before_the_replay(tmp_path, capsys):
    trace = str(CORPUS / "counter-racy-no-lost-update.json")
    assert main(["replay", trace, "--itf", str(tmp_path / "no" / "such" / "x.json")]) == 2
    assert main(["replay", trace, "--pytest", str(tmp_path)]) == 2
    err = capsys.readouterr()
    assert "no such directory" in err.err and "is a directory" in err.err
    assert err.out == ""                                         # nothing was replayed


def _run_pytest(folder: Path) -> str:
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-rA", "-p", "no:cacheprovider",
                           str(folder)], cwd=folder, capture_output=True, text=True,
                          timeout=300)
    return proc.stdout + proc.stderr


def test_generated_pytest_files_pass_and_can_fail(tmp_path):
    preserve = CORPUS / "k6-16-preserve-race-no-preserved-page-lost.json"
    restore = CORPUS / "k6-16-double-restore-restore-at-most-once.json"
    assert main(["replay", str(preserve), "--quiet", "--pytest",
                 str(tmp_path / "test_own.py")]) == 1
    assert main(["replay", str(restore), "--against", "k6.18", "--quiet", "--pytest",
                 str(tmp_path / "test_fixed.py")]) == 0
    # the same tests where the answer is not what they pin: a changed observation, and a
    # fix claimed to still fail
    bad = Trace.load(preserve)
    bad.steps[0].effects[0] = (bad.steps[0].effects[0][0], "0", bad.steps[0].effects[0][2])
    (tmp_path / "test_bad_own.py").write_text(pytest_source(bad))
    (tmp_path / "test_bad_fixed.py").write_text(
        pytest_source(Trace.load(restore), "k6.18", "STILL", None))
    out = _run_pytest(tmp_path)
    assert "2 failed, 2 passed" in out, out
    assert "PASSED test_own.py::" in out and "PASSED test_fixed.py::" in out
    assert "FAILED test_bad_own.py::" in out and "diverges" in out
    assert "FAILED test_bad_fixed.py::" in out
    assert "khomc replay" in (tmp_path / "test_own.py").read_text().splitlines()[0]


def test_no_pytest_for_a_trace_that_does_not_reproduce(tmp_path, capsys):
    t = Trace.load(CORPUS / "counter-racy-no-lost-update.json")
    d = t.as_json()
    d["steps"][2]["effects"][0]["obs"] = "7"
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(d))
    assert main(["replay", str(bad), "--quiet", "--pytest", str(tmp_path / "test_x.py"),
                 "--itf", str(tmp_path / "x.itf.json")]) == 3
    out = capsys.readouterr().out
    assert "no pytest written" in out and not (tmp_path / "test_x.py").exists()
    doc = json.loads((tmp_path / "x.itf.json").read_text())
    valid_itf(doc, 3)        # the states up to the divergence (steps 1 and 2 replayed)
