"""The engine's fast paths (issue 12, item 1) agree with the plain ones and can be caught lying.

* the property memo (a decision tree of the values a property read) gives the verdicts of plain
  evaluation, and a memo that forgets what was read misses a violation;
* the effect-outcome memo refuses an effect that changes a slot it does not declare;
* the cyclic collector is off during a search and back on after it, also after an error.
"""

import gc

import pytest

from khomc.engines import monitor as monitor_mod
from khomc.engines.result import Verdict
from khomc.engines.search import check
from khomc.runtime import Model, SpecError, load, store
from khomc.runtime.effects import Effect


async def writer(x, v):
    await store(x, v)


def branching_model():
    """``ok`` reads ``b`` only when ``a`` is set: the decision tree has two shapes."""
    m = Model("t", "branching")
    a = m.var("a", 0)
    b = m.var("b", 0)
    m.task("wa", writer, a, 1)
    m.task("wb", writer, b, 1)
    m.always("ok", lambda s: s[a] == 0 or s[b] == 0)
    m.sometimes("both", lambda s: s[a] == 1 and s[b] == 1)
    return m


def test_property_memo_matches_plain_evaluation():
    r = check(branching_model())
    v = {p.name: p.verdict for p in r.properties}
    assert v["ok"] is Verdict.VIOLATED and v["both"] is Verdict.HOLDS
    assert r.distinct == 4


def test_a_memo_that_forgets_its_reads_misses_the_violation(monkeypatch):
    """The mutant: reads not logged - the first value becomes the property's value in every
    state, so the violation goes unseen.  The test above would catch it."""
    def unlogged(self, var):
        return self._view[var]
    monkeypatch.setattr(monitor_mod._RecordingView, "__getitem__", unlogged)
    r = check(branching_model())
    assert {p.name: p.verdict for p in r.properties}["ok"] is Verdict.HOLDS


class _Sneaky(Effect):
    """Declares slot 0 but writes slot 1 as well."""

    __slots__ = ()

    def step(self, world, tid):
        return (world[0] + 1, world[1] + 1) + world[2:], None

    def slots(self):
        return (0,)


async def sneaky():
    await _Sneaky()


def test_effect_writing_an_undeclared_slot_is_a_spec_error():
    m = Model("t", "sneaky")
    m.var("x", 0)
    m.var("y", 0)
    m.task("s", sneaky)
    with pytest.raises(SpecError, match="does not declare"):
        check(m)


def test_collector_restored_after_a_search_and_after_an_error():
    assert gc.isenabled()
    check(branching_model())
    assert gc.isenabled()
    m = Model("t", "sneaky")
    m.var("x", 0)
    m.var("y", 0)
    m.task("s", sneaky)
    with pytest.raises(SpecError):
        check(m)
    assert gc.isenabled()
