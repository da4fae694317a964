"""Traces: save/load round trip, replay step by step, divergence, rendering, lassos."""

import json

import pytest

from khomc.engines.search import check
from khomc.registry import build
from khomc.trace import Trace, TraceError, replay


@pytest.fixture
def racy_trace(tmp_path):
    r = check(build("counter", "racy", {"N": 2}))
    path = r.property("no-lost-update").trace.save(tmp_path / "racy.json")
    return path


def test_round_trip(racy_trace):
    t = Trace.load(racy_trace)
    assert t.as_json() == json.loads(racy_trace.read_text())
    assert t.spec == "counter" and t.scenario == "racy" and t.verdict == "VIOLATED"
    assert t.engine == "bfs" and t.tool.startswith("khomc ")


def test_replay_reproduces_every_step(racy_trace):
    t = Trace.load(racy_trace)
    res = replay(t, build("counter", "racy", t.params))
    assert res.ok and res.steps_ok == 4 and res.divergence is None


def test_replay_names_the_first_divergent_step(racy_trace):
    d = json.loads(racy_trace.read_text())
    d["steps"][2]["effects"][0]["obs"] = "7"   # a different observation at step 3
    res = replay(Trace.from_json(d), build("counter", "racy", {"N": 2}))
    assert res.divergence is not None and res.divergence[0] == 3
    assert "observed" in res.divergence[1]


def test_replay_of_a_blocked_task_says_why():
    r = check(build("counter", "locked", {"N": 2}))
    t = r.property("all-incremented").trace
    d = t.as_json()
    d["steps"][1]["task"], d["steps"][1]["tid"] = "inc1", 1   # inc1 tries while inc0 holds it
    d["steps"][0]["task"], d["steps"][0]["tid"] = "inc0", 0
    res = replay(Trace.from_json(d), build("counter", "locked", {"N": 2}))
    assert res.divergence is not None
    assert "blocked" in res.divergence[1] or "ran" in res.divergence[1]


def test_lasso_replays_back_to_its_start():
    r = check(build("counter", "spin", {}))
    t = r.property("terminates").trace
    res = replay(t, build("counter", "spin", {}))
    assert res.ok and "repeat forever" in res.message


def test_deadlock_trace_replays():
    t = check(build("counter", "abba", {})).property("deadlock-free").trace
    res = replay(t, build("counter", "abba", {}))
    assert res.ok and "held by" in res.message


def test_render_has_one_column_per_task_and_state_changes(racy_trace):
    text = Trace.load(racy_trace).render()
    header = [l for l in text.splitlines() if l.strip().startswith("#")][0]
    assert "inc0" in header and "inc1" in header and "|" in header
    assert "count: 0 → 1" in text
    lines = text.splitlines()
    step2 = [l for l in lines if l.startswith("  2")][0]
    assert step2.index("read count") > header.index("inc1") - 2   # in inc1's column


@pytest.mark.parametrize("content,why", [
    ("{not json", "corrupt or truncated JSON"),
    ('{"format": "khomc-trace", "version": 1, "spec": "counter"', "corrupt or truncated JSON"),
    ('{"format": "khomc-trace", "version": 99}', "version 99 is not supported"),
    ('{"hello": 1}', "not a khomc trace"),
    ('{"format": "khomc-trace", "version": 1, "spec": "counter"}', "malformed trace"),
    ('[1, 2]', "not a khomc trace"),
])
def test_bad_trace_files_give_one_clear_reason(tmp_path, content, why):
    p = tmp_path / "t.json"
    p.write_text(content)
    with pytest.raises(TraceError, match=why):
        Trace.load(p)
