"""The commit ledger links an era the way the kernel links its files: a delta's function
replaces the base's for every caller, ``namespace(k)`` applies exactly the first k deltas, and
two base files defining one function is refused."""

import doctest
import types

import pytest

from khomc.kho import ledger
from khomc.kho.ledger import Delta, Era


def _module(name: str, source: str) -> types.ModuleType:
    mod = types.ModuleType(name)
    exec(source, mod.__dict__)
    return mod


def test_doctests():
    assert doctest.testmod(ledger).failed == 0


def test_deltas_apply_in_order_and_callers_see_the_newest_callee():
    base = _module("khomc.kho._t_base", "def check(): return 0\ndef api(): return check()")
    first, second = Delta("aaaaaaaaaaaa", "one"), Delta("bbbbbbbbbbbb", "two", fixes="aaaaaaaaaaaa")
    first.replaces(lambda: 1, name="check")
    second.replaces(lambda: 2, name="check")
    era = Era("e1", base=(base,), deltas=(first, second))
    assert [era.namespace(k).api() for k in range(3)] == [0, 1, 2]
    later = Era("e2", base=era, deltas=())
    assert later.namespace().api() == 2
    assert [d.commit for d in later.ledger()] == ["aaaaaaaaaaaa", "bbbbbbbbbbbb"]
    assert "Fixes: aaaaaaaaaaaa" in second.line()


def test_a_function_in_two_base_files_is_refused():
    a = _module("khomc.kho._t_a", "def f(): return 1")
    b = _module("khomc.kho._t_b", "def f(): return 2")
    with pytest.raises(ValueError, match="two base files"):
        Era("bad", base=(a, b)).namespace()


def test_asking_for_more_deltas_than_the_era_has_is_refused():
    with pytest.raises(ValueError, match="deltas asked"):
        Era("e", base=()).namespace(1)


def test_a_linked_kernel_hashes_by_era_and_prefix():
    base = _module("khomc.kho._t_h", "def f(): return 1")
    d = Delta("cccccccccccc", "c")
    d.replaces(lambda: 2, name="f")
    era = Era("h", base=(base,), deltas=(d,))
    assert {era.namespace(0), era.namespace(0), era.namespace(1)} == {era.namespace(0), era.namespace(1)}
    assert "first 0 of 1" in repr(era.namespace(0))
