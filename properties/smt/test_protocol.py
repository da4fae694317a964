"""The eras' page-accounting protocols (khomc.smt.protocol): agreement, statuses, mutants.

* Agreement (issue 5, item 4): on random small concrete states and steps, the z3 transition
  relation (over the uninterpreted sorts, pinned to a finite universe by distinctness and
  domain-closure axioms) is enabled exactly when the plain-Python step function is, and then
  its successor is the Python successor and no other; z3's I1 agrees with Python's.
* Each era's obligation has its pinned status: v5 and 7.1 PROVED; 6.16, 6.18 and 6.19 REFUTED
  by the unlocked-check / no-check race, with the z3 path found, in order, in the replayed
  Python counterexample.
* The proof can fail: v5 without the frozen check is REFUTED (and its z3 path is reproduced by
  khomc.kho.v5.kexec_handover's mutant of the same name); a z3 path checked against a scenario whose Python
  search finds no loss is reported as an encoding error, never as REFUTED.
"""

import random

import pytest
import z3
from hypothesis import given, settings, strategies as st

from khomc.smt import plan
from khomc.smt import protocol as P
from khomc.smt.core import FINDING, IN_DOMAIN, Status

MUT = "preserve-skips-freeze-check"


# -- agreement ------------------------------------------------------------------------------

def _universe(sort, prefix, n):
    cs = [z3.Const(f"{prefix}{i}", sort) for i in range(n)]
    x = z3.Const(f"{prefix}!x", sort)
    axioms = [z3.ForAll([x], z3.Or(*[x == c for c in cs]))]
    if n > 1:
        axioms.append(z3.Distinct(*cs))
    return cs, axioms


def _pin(s, st_, Ps, Bs, Ts):
    """Constraints making symbolic state *s* equal the concrete PState *st_*."""
    eqs = [s.pub == st_.pub, s.fin == st_.fin, s.mid == st_.mid, s.done == st_.done]
    for i, c in enumerate(Ps):
        eqs += [s.pres[c] == (i in st_.pres), s.trk[c] == (i in st_.trk)]
    for i, c in enumerate(Bs):
        eqs += [s.ex[c] == (i in st_.ex), s.lnk[c] == (i in st_.lnk)]
    for j, c in enumerate(Ts):
        eqs += [s.pc[c] == P.PC_VALUES[st_.pc[j]], s.pend[c] == Ps[st_.pend[j]]]
    return z3.And(*eqs)


@st.composite
def states(draw, era: str, act: str):
    """A small concrete state (1-3 pages, 1-2 bitmaps, 1-2 tasks), a page->bitmap map, and the
    acting task and page; often with the task at the pc the action needs."""
    npages, nbmps, ntasks = (draw(st.integers(1, 3)), draw(st.integers(1, 2)),
                             draw(st.integers(1, 2)))
    pages, bmps = list(range(npages)), list(range(nbmps))
    subset = lambda xs: st.frozensets(st.sampled_from(xs))
    bmap = tuple(draw(st.lists(st.sampled_from(bmps), min_size=npages, max_size=npages)))
    s = P.PState(draw(subset(pages)), draw(subset(pages)), draw(subset(bmps)), draw(subset(bmps)),
                 draw(st.booleans()), draw(st.booleans()), draw(st.booleans()),
                 draw(st.integers(0, 5)) == 0,
                 tuple(draw(st.lists(st.integers(0, 2), min_size=ntasks, max_size=ntasks))),
                 tuple(draw(st.lists(st.sampled_from(pages), min_size=ntasks,
                                     max_size=ntasks))))
    t, p = draw(st.integers(0, ntasks - 1)), draw(st.sampled_from(pages))
    need = {"check": 0, "alloc": 1, "set": 2}.get(act)
    if need is not None and draw(st.booleans()):
        s = s._replace(pc=s.pc[:t] + (need,) + s.pc[t + 1:])
    if act in ("finalize", "abort") and draw(st.booleans()):
        s = s._replace(pc=(0,) * ntasks)                   # v5's down_write needs all idle
    return nbmps, bmap, s, t, p


#: Every (era, mutants, action): the era's own actions and one it does not have.
CASES = [(era, frozenset(), act) for era in P.ERAS for act in P.ERA_ACTS[era] + ("flag"
         if "flag" not in P.ERA_ACTS[era] else "kfinalize",)]
CASES += [("v5", frozenset({MUT}), act) for act in ("check", "unpreserve")]


@pytest.mark.parametrize("era,mutants,act", CASES,
                         ids=[f"{e}{'-mut' if m else ''}-{a}" for e, m, a in CASES])
@settings(max_examples=25, deadline=None, derandomize=True)
@given(data=st.data())
def test_z3_transition_agrees_with_python_step(era, mutants, act, data):
    nbmps, bmap, s0, t, p = data.draw(states(era, act))
    Ps, ap = _universe(P.Page, "P", len(bmap))
    Bs, ab = _universe(P.Bitmap, "B", nbmps)
    Ts, at = _universe(P.Task, "T", len(s0.pc))
    s, s2 = P.S.fresh("a"), P.S.fresh("b")
    base = (ap + ab + at + [P.bm(c) == Bs[bmap[i]] for i, c in enumerate(Ps)]
            + [_pin(s, s0, Ps, Bs, Ts)])
    rel = P.transition(era, s, s2, P.ACT[act], Ts[t], Ps[p], mutants)
    want = P.py_step(era, s0, act, t, p, bmap, mutants)
    slv = z3.Solver()
    slv.add(*base, rel)
    got = slv.check()
    assert got == (z3.sat if want is not None else z3.unsat), (era, act, s0, want)
    if want is not None:
        slv.add(z3.Not(_pin(s2, want, Ps, Bs, Ts)))
        assert slv.check() == z3.unsat, (era, act, s0, want, slv.model())
    # I1 in z3 and in Python agree on the pre-state.
    slv = z3.Solver()
    slv.add(*base, z3.Not(P.i1(era, s)))
    assert (slv.check() == z3.sat) == (not P.py_i1(era, s0, bmap))


@pytest.mark.parametrize("era", ["v5", "7.1"])
def test_random_runs_of_the_proved_eras_keep_i1(era):
    """The Python twin, run at random from Init on many pages and tasks, never violates I1
    where z3 proved it inductive (a cheap cross-check of the proof's meaning)."""
    rng = random.Random(0)
    for _ in range(200):
        npages, ntasks = rng.randint(1, 6), rng.randint(1, 4)
        bmap = tuple(rng.randrange(3) for _ in range(npages))
        s = P.py_init(ntasks)
        for _ in range(40):
            nxt = P.py_step(era, s, rng.choice(P.ERA_ACTS[era]), rng.randrange(ntasks),
                            rng.randrange(npages), bmap)
            s = nxt or s
            assert P.py_i1(era, s, bmap)


def test_random_runs_of_6_16_can_lose_a_page():
    """The Python twin of 6.16 loses a page on the race the z3 path names."""
    bmap = (0,)
    s = P.py_init(1)
    for act, t, p in [("check", 0, 0), ("finalize", 0, 0), ("alloc", 0, 0), ("set", 0, 0),
                      ("flag", 0, 0), ("kexec", 0, 0)]:
        s = P.py_step("6.16", s, act, t, p, bmap)
        assert s is not None, act
    assert not P.py_i1("6.16", s, bmap)


# -- statuses ----------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def results():
    return {era: P.obligation(era) for era in P.ERAS}


@pytest.mark.parametrize("era", ["v5", "7.1"])
def test_proved_eras(results, era):
    r = results[era]
    assert r.kind == IN_DOMAIN and r.status is Status.PROVED, (r.status, r.reason)
    assert r.as_expected and not r.counterexample


@pytest.mark.parametrize("era,path", [
    ("6.16", "check(T0, P0) ; finalize ; alloc-new-bitmap(T0, P0) ; set(T0, P0) ; flag ; kexec"),
    ("6.18", "check(T0, P0) ; finalize ; alloc-new-bitmap(T0, P0) ; set(T0, P0) ; flag ; kexec"),
    ("6.19", "check(T0, P0) ; kfinalize ; alloc-new-bitmap(T0, P0) ; set(T0, P0) ; kexec"),
])
def test_refuted_eras_are_reproduced_by_the_python_spec(results, era, path):
    r = results[era]
    assert r.kind == FINDING and r.status is Status.REFUTED, (r.status, r.reason)
    c = r.counterexample
    assert c["path"] == path
    assert c["lost_page"] == "P0"
    assert "VIOLATED" in c["python"] and "replayed" in c["python"]
    steps = c["python_steps"].split("; #")
    assert len(steps) == len(path.split(" ; "))
    assert "machine_kexec()" in steps[-1]
    assert "no task is between" in c["cti"]


def test_the_6_16_cti_also_names_abort(results):
    """6.16's kho_abort empties the tracker but not the clients' promises (test-kho-refinalize
    is VIOLATED on the Python spec for that reason): the induction check names it too."""
    assert "abort breaks 'a preserved page is tracked" in results["6.16"].counterexample["cti"]


def test_protocol_obligations_are_in_the_catalog():
    for era in P.ERAS:
        names = [run for eras, run in plan(era) if eras == (era,)]
        assert names, era
    assert len(plan()) >= len(P.ERAS)


# -- the proof can fail, and encoding errors are not reported as refutations -----------------

def test_v5_without_the_frozen_check_is_refuted():
    r = P.obligation("v5", mutants={MUT}, kind=FINDING)
    assert r.status is Status.REFUTED, (r.status, r.reason)
    c = r.counterexample
    assert c["path"] == ("finalize ; check(T0, P0) ; serialize ; alloc-new-bitmap(T0, P0) ; "
                         "set(T0, P0) ; kexec")
    assert "[freeze]" in c["python_steps"] and MUT in c["python"]
    assert "while frozen" in c["cti"]


def test_a_path_the_spec_does_not_reproduce_is_an_encoding_error():
    # k6.16/test-kho finalizes only after the preserve has returned: no loss in Python.
    r = P.obligation("6.16", scenario=("k6.16", "test-kho", {}))
    assert r.status is Status.UNKNOWN
    assert r.reason.startswith("encoding error: z3 trace not reproduced by the Python spec")
    assert not r.counterexample


def test_match_requires_the_same_order():
    ev = [(1, "late", "read kho_out.finalized"),
          (2, "operator", "xa_for_each(kho_out.ser.track.orders)"),
          (3, "late", "xa_cmpxchg(phys_bits@0x1000, 0, None, 4096)"),
          (4, "late", "set_bit(1) in __kho_preserve_order"),
          (5, "operator", "kho_out.finalized = True; mutex_unlock"),
          (6, "operator", "machine_kexec()")]
    E = P.Event
    race = [E("check", 0, 0), E("finalize"), E("alloc", 0, 0, True), E("set", 0, 0),
            E("flag"), E("kexec")]
    assert P.match("6.16", race, ev) == ev
    swapped = [E("finalize"), E("check", 0, 0)] + race[2:]
    assert P.match("6.16", swapped, ev) is None
    assert P.match("6.16", race, ev[:1] + ev[2:3] + ev[1:2] + ev[3:]) is None


def test_unknown_era_and_mutant_are_refused():
    with pytest.raises(ValueError):
        P.obligation("6.17")
    with pytest.raises(ValueError):
        P.obligation("6.16", mutants={MUT})
