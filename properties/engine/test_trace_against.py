"""The mapping rules of ``replay --against`` (khomc.trace_against) on toy eras of one scenario.

Era ``toy-racy`` has the lost update; each other era changes one thing a real era change does:

* ``toy-renamed``: tasks numbered from 1, plus an ``init`` task the workers wait for (the LUO
  eras' kho_init): roles map inc0 -> inc1, inc1 -> inc2, and init runs only to unblock;
* ``toy-moved``: the read moved into a callee (6.18 moved the ``finalized`` check): STILL;
* ``toy-cmpxchg``: the write became a cmpxchg retry loop (a fix): GONE;
* ``toy-locked``: a mutex around the increment: CANNOT APPLY, blocked, in the target's terms;
* ``toy-renamed-func``: the increment lives in another function: CANNOT APPLY, named;
* ``toy-helper-b``: ``bump`` calls another helper than ``toy-helper-a``'s: ``replaced``, STILL;
* ``toy-renamed-role``: the tasks are called adder_a and adder_b: mapped by the function they run.
"""

import json
from pathlib import Path
import sys
import types

import pytest

from khomc import registry
from khomc.cli import main
from khomc.engines.search import check
from khomc.kernel.locking import Mutex, mutex_lock, mutex_unlock
from khomc.runtime import Model, Scenario, load, store, update
from khomc.trace import Trace
from khomc.trace_against import CANNOT, GONE, STILL, mask, replay_against, role


def _code(kind):
    """The era's worker and bump, named alike in every era (the names are what maps)."""
    if kind == "moved":
        async def load_count(count):
            return await load(count)

        async def bump(count):
            v = await load_count(count)
            await store(count, v + 1)
    elif kind == "cmpxchg":
        async def bump(count):
            while True:
                v = await load(count)
                if await update(count, _cmpxchg, v, v + 1, text=f"cmpxchg(count, {v}, {v + 1})"):
                    return
    elif kind == "locked":
        async def bump(count, lock):
            await mutex_lock(lock)
            v = await load(count)
            await store(count, v + 1)
            await mutex_unlock(lock)
    elif kind in ("helper-a", "helper-b"):
        async def add_via_a(count):
            v = await load(count)
            await store(count, v + 1)

        async def add_via_b(count):
            v = await load(count)
            await store(count, v + 1)

        async def bump(count):
            await (add_via_a if kind == "helper-a" else add_via_b)(count)
    else:
        async def bump(count):
            v = await load(count)
            await store(count, v + 1)

    if kind == "renamed-func":
        async def add_one(count):
            v = await load(count)
            await store(count, v + 1)

        async def worker(count):
            await add_one(count)
    elif kind == "renamed":
        async def worker(count, ready):
            await wait_ready(ready)
            await bump(count)
    else:
        async def worker(*args):
            await bump(*args)
    return worker


def _wait_set(flag, tid):
    return (flag, None) if flag else None


async def wait_ready(ready):
    await update(ready, _wait_set, text="wait for init")


async def init(ready):
    await store(ready, True)


def _cmpxchg(old, tid, expect, new):
    return (new, True) if old == expect else (old, False)


def _era(spec, kind):
    def build(N: int = 2):
        m = Model(spec, "bump", {"N": N})
        count = m.var("count", 0)
        ready = m.var("ready", False)
        lock = Mutex.new(m, "lock")
        if kind == "renamed":
            m.task("init", init, ready)
        work = _code(kind)
        for i in range(N):
            if kind == "renamed":
                m.task(f"inc{i + 1}", work, count, ready)
            elif kind == "renamed-role":
                m.task(f"adder_{'ab'[i]}", work, count)
            elif kind == "locked":
                m.task(f"inc{i}", work, count, lock)
            else:
                m.task(f"inc{i}", work, count)
        m.final("no-lost-update", lambda s: s[count] == N, doc="no lost update")
        return m
    mod = types.ModuleType(f"toy_{kind}")
    mod.__doc__ = f"toy era {kind}"
    mod.SCENARIOS = [Scenario("bump", build, {"N": 2}, "two increments")]
    return mod


KINDS = ["racy", "renamed", "moved", "cmpxchg", "locked", "renamed-func", "helper-a", "helper-b",
         "renamed-role"]


@pytest.fixture(autouse=True)
def toy_eras(monkeypatch):
    for kind in KINDS:
        modname = f"toy_era_{kind.replace('-', '_')}"
        monkeypatch.setitem(sys.modules, modname, _era(f"toy-{kind}", kind))
        monkeypatch.setitem(registry.SPECS, f"toy-{kind}", modname)


@pytest.fixture
def trace(tmp_path):
    r = check(registry.build("toy-racy", "bump", {}))
    t = r.property("no-lost-update").trace
    # the lost update: both read 0, both write 1
    assert [s.effects[0][0] for s in t.steps] == ["read count", "read count",
                                                  "write count := 1", "write count := 1"]
    return t


def test_roles_and_masks():
    assert role("inc12") == "inc" and role("kho_init") == "kho_init"
    assert mask("set_bit(9) in __kho_preserve_order") == "set_bit(#) in __kho_preserve_order"


def test_the_same_era_is_still_with_every_step_the_same(trace):
    r = replay_against(trace, "toy-racy")
    assert r.outcome == STILL and r.counts() == {"same": 4} and r.exit_code == 1


def test_renamed_tasks_and_an_extra_task_map_by_role(trace):
    r = replay_against(trace, "toy-renamed")
    assert r.outcome == STILL, r.line()
    mapped = [(row.task, row.target, row.how) for row in r.rows]
    assert ("", "init", "unblock") in mapped                  # init ran: the only way forward
    assert ("inc0", "inc1", "same") in mapped and ("inc1", "inc2", "same") in mapped
    assert sum(1 for _, t, how in mapped if how == "target-only") == 2   # the two waits


def test_renamed_roles_map_by_the_function_the_task_runs(trace):
    r = replay_against(trace, "toy-renamed-role")
    assert r.outcome == STILL and r.counts() == {"same": 4}, r.line()
    assert {(row.task, row.target) for row in r.rows} == {("inc0", "adder_a"),
                                                           ("inc1", "adder_b")}


def test_an_access_moved_into_a_callee_still_maps(trace):
    r = replay_against(trace, "toy-moved")
    assert r.outcome == STILL and r.counts()["moved"] == 2
    row = next(row for row in r.rows if row.how == "moved")
    assert "load_count" in row.got and "bump" in row.source


def test_a_fix_makes_the_violation_gone(trace):
    r = replay_against(trace, "toy-cmpxchg")
    assert r.outcome == GONE and r.exit_code == 0, r.line()
    assert any(row.how == "trailing" for row in r.rows)        # inc1 retries to the end
    assert r.model.describe_world(r.states[-1][0])["count"] == 2


def test_a_lock_makes_the_schedule_inapplicable_in_the_targets_terms(trace):
    r = replay_against(trace, "toy-locked")
    assert (r.outcome, r.step) == (CANNOT, 2) and r.exit_code == 3
    assert "inc1 in toy-locked is blocked at mutex_lock(lock)" in r.reason
    assert "held by inc0" in r.reason


def test_a_different_function_is_named(trace):
    r = replay_against(trace, "toy-renamed-func")
    assert (r.outcome, r.step) == (CANNOT, 1)
    assert "in add_one where the trace has read count in bump" in r.reason


def test_a_helper_replaced_under_the_same_kernel_call_maps():
    t = check(registry.build("toy-helper-a", "bump", {})).property("no-lost-update").trace
    r = replay_against(t, "toy-helper-b")
    assert r.outcome == STILL and r.counts() == {"replaced": 4}, r.line()
    assert "toy-helper-b calls add_via_b where the trace called add_via_a" in r.rows[0].note


def test_unknown_scenario_parameter_and_property_are_step_0(trace):
    t = Trace.from_json(trace.as_json())
    t.scenario = "nope"
    r = replay_against(t, "toy-racy")
    assert (r.outcome, r.step) == (CANNOT, 0) and "no scenario 'nope'" in r.reason
    t = Trace.from_json(trace.as_json())
    t.params = {"N": 2, "M": 3}
    r = replay_against(t, "toy-locked")
    assert (r.outcome, r.step) == (CANNOT, 0) and "no parameter 'M'" in r.reason
    t = Trace.from_json(trace.as_json())
    t.property = "no-such-promise"
    r = replay_against(t, "toy-racy")
    assert (r.outcome, r.step) == (CANNOT, 0) and "no property" in r.reason


def test_cli_exit_codes_and_json(trace, tmp_path, capsys):
    path = trace.save(tmp_path / "t.json")
    for era, code, outcome in [("toy-cmpxchg", 0, GONE), ("toy-moved", 1, STILL),
                               ("toy-locked", 3, CANNOT)]:
        assert main(["replay", str(path), "--against", era, "--json"]) == code
        d = json.loads(capsys.readouterr().out)
        assert d["outcome"] == outcome and d["reason"] and d["against"] == era
        assert all({"step", "how", "trace", "target"} <= set(m) for m in d["mapping"])
    assert main(["replay", str(path), "--against", "toy-moved"]) == 1
    out = capsys.readouterr().out
    assert "moved" in out and out.strip().splitlines()[-1].startswith(f"replay {path} against")
    assert main(["replay", str(path), "--against", "no-such-era"]) == 2


def test_frame_names_from_the_key_agree_with_the_live_coroutine():
    from khomc.runtime.step import Stepper
    from khomc.trace_against import frame_names, live_frame_names
    t = Trace.load(Path(__file__).resolve().parents[2] / "traces" / "corpus"
                   / "k6-16-preserve-race-no-preserved-page-lost.json")
    model = registry.build(t.spec, t.scenario, t.params)
    st = Stepper(model)
    state = st.initial()
    seen = 0
    for step in t.steps:
        tid = st.task_names(state).index(step.task)
        lid = state[1][tid]
        assert frame_names(model.table, lid) == live_frame_names(model.table, lid)
        seen += len(frame_names(model.table, lid)) > 2
        state, _ = st.execute(state, tid, step.choices)
    assert seen > 10          # deep chains were compared, not only task bodies
