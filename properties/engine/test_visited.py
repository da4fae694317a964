"""The compiled visited table (model/engines/_visited.c) is a dict to its users.

``_bfsloop.Visited`` maps a state's interned key to its id.  The compiled loop enters most
successors under a hash it computes from their source's (the ids a step writes), and finds
visited ones without building their keys; Python code (``Search._fast_items``, the symmetry
canon, a resumed search) looks keys up by the hash of the whole key.  So the table is checked
as a dict under random operations, and after real searches every stored key must be found
again, by Python, at its own state id: a probe hash that differed from the whole key's
would lose the key here (and give a second state for it in the search).
"""

from contextlib import nullcontext

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from khomc import registry
from khomc.engines import search as search_mod
from khomc.engines.search import Search

pytestmark = pytest.mark.skipif(search_mod._bfsloop is None,
                                reason="khomc.engines._bfsloop was not built")

ints = st.integers(min_value=-2**70, max_value=2**70)
keys = st.one_of(
    st.tuples(st.tuples(ints, ints), st.tuples(ints)),      # interned keys, some too wide
    st.tuples(st.tuples(st.integers(0, 3)), st.tuples(st.integers(0, 3))),
    st.text(max_size=3), st.integers(0, 5), st.tuples(st.text(max_size=2), st.integers()))
ops = st.lists(st.tuples(st.sampled_from(["set", "setdefault", "get", "in", "getitem"]),
                         keys, st.integers(0, 9)), max_size=200)


@settings(max_examples=200, deadline=None)
@given(ops)
def test_the_table_behaves_as_a_dict(script):
    table, ref = search_mod._bfsloop.Visited(), {}
    for op, key, val in script:
        if op == "set":
            table[key] = val
            ref[key] = val
        elif op == "setdefault":
            assert table.setdefault(key, val) == ref.setdefault(key, val)
        elif op == "get":
            assert table.get(key) == ref.get(key) and table.get(key, -1) == ref.get(key, -1)
        elif op == "in":
            assert (key in table) == (key in ref)
        else:
            with pytest.raises(KeyError) if key not in ref else nullcontext():
                assert table[key] == ref[key]
        assert len(table) == len(ref)
    assert sorted(map(repr, table.items())) == sorted(map(repr, ref.items()))
    assert sorted(map(repr, table)) == sorted(map(repr, ref))
    assert sorted(map(repr, search_mod._bfsloop.Visited(ref).items())) == \
        sorted(map(repr, ref.items()))


def test_the_table_refuses_what_a_dict_refuses():
    table = search_mod._bfsloop.Visited()
    with pytest.raises(TypeError):
        table[[1]] = 0                      # unhashable
    table["k"] = 1
    with pytest.raises(TypeError):
        del table["k"]                      # no deletion: ids are never given back
    with pytest.raises(TypeError):
        table.get()


@pytest.mark.parametrize("spec,scenario,params", [
    ("spinkho", "ok", {"N": 3, "K": 3}),
    ("v5", "fdbox-race", None),
    ("k6.16", "fdbox-race", None),
    ("k6.19", "three-preservers", {"clients": 2}),
])
def test_every_key_the_loop_entered_is_found_again(spec, scenario, params):
    model = registry.build(spec, scenario, params)
    s = Search(model, "bfs", graph_limit=0)
    assert s.fast and s.compiled
    r = s.run()
    assert type(s.ids) is search_mod._bfsloop.Visited
    keys = s.states.keys
    assert len(s.ids) == len(keys) == r.distinct
    assert all(s.ids.get(k) == i for i, k in enumerate(keys))
    # and the counts are the Python loop's
    p = Search(registry.build(spec, scenario, params), "bfs", graph_limit=0)
    p.compiled = False
    rp = p.run()
    assert type(p.ids) is dict
    assert (rp.distinct, rp.transitions) == (r.distinct, r.transitions)
