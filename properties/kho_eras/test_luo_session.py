"""LUO sessions, files and memfd through luo_file (model/kho/k6_19/luo_session.py, luo_file.py,
memfd_luo.py; 7.1 and mainline-2026-04 link the same files with their deltas), scenario
``luo-session-race`` of model/scenarios/luo.py on the three LUO eras, pinned.

VIOLATED pins, explained in the scenario's docstring: with the userspace agent racing the
reboot (race=True), luo-preserved-restorable (a PRESERVE_FD that returned 0 after serialize
walked the sessions is not handed over) and luo-nothing-unpreserved-handed-over (a session closed
after - or while - serialize walked it is still handed over) fail: kernel races of
luo_session.c as written for 6.19 and unchanged through mainline-2026-04 (PRESERVE_FD and release
take only session->mutex; "liveupdate: block session mutations during reboot", posted in May 2026
after every era here, closes them with luo_session_serialize_rwsem).  7.1 and mainline-2026-04
keep both races: the radix tree makes no difference to what LUO's session array records.  With close=False only the first can fail.  In the
sequential use (race=False) both hold, which shows neither is violated by construction.

luo-restore-returns-preserved and luo-finish-reclaims-unretrieved (the next kernel's
RETRIEVE_SESSION, RETRIEVE_FD and FINISH / close, model/kho/k6_19/luo_next.py) fail exactly where
luo-preserved-restorable does: the PRESERVE_FD that returned 0 after serialize is in no session,
so RETRIEVE_FD (or RETRIEVE_SESSION) finds nothing.  Sequentially they hold; the mutants
memfd-index-unset and memfd-nr-folios-unset show them failing on their own
(test_memfd_luo.py).

With the mutant serialize-rwsem - not a flaw: the fix "liveupdate: block session mutations
during reboot" (v6, 2026-05-27, kexec list 2026-May/036473.html; Fixes: 0153094d03df), posted
after every era here - all four LUO promises hold at race=True on the three eras: the races
above are exactly what it closes.  deadlock-free is VIOLATED there by the model's view of the
fix's design: serialize keeps luo_session_serialize_rwsem for write on success, so a userspace
PRESERVE_FD or close that comes after it sleeps until machine_kexec replaces the kernel; the
model reports that task as blocked forever (on hardware the next kernel is running).

With one allocation failure anywhere (fail_allocs=1, race=True; 19448 states on 6.19): the
vmalloc preservation of memfd's folios_ser (vcalloc, new_vmalloc_chunk, kho_preserve_pages inside
kho_preserve_vmalloc and its err_free -> kho_unpreserve_vmalloc) runs concurrently with the
reboot's serialization and the next boot; no verdict beyond the race's and the two below: the
error paths unwind what they preserved.

With one allocation failure (fail_allocs=1, race=False): deadlock-free fails when kho_init's own
allocation fails (every task waits for kho_init forever - the shared kho_wait_ready of the 6.19
model, as in the era's other scenarios at fail_allocs=1); no-preserved-page-lost fails when
luo_fdt_setup's allocation fails: luo_late_startup clears luo_global.enabled, so
liveupdate_reboot returns 0 without kho_finalize and kexec hands over no memory map although
kho_init preserved its root FDT page - 6.19's design (the reboot finalizes KHO only through
LUO; only a debugfs finalize would), not a misuse by the agent (which finds no LUO and stops).
On 7.1 and mainline-2026-04 only the deadlock remains: the radix tree is live from kho_init on,
so a disabled LUO no longer leaves the preserved pages unreserved.
"""

import pytest

from khomc.engines.result import Verdict
from khomc.engines.search import check
from khomc.registry import build

H, V = Verdict.HOLDS, Verdict.VIOLATED

BASE = {"assertions": H, "deadlock-free": H, "terminates": H, "conversion-race-free": H,
        "no-preserved-page-lost": H, "memory-safety": H, "handed-over-metadata-live": H,
        "kexec-reached": H,
        "finalize-succeeded": H, "next-kernel-revived": H, "luo-file-restored": H,
        "luo-preserved-restorable": H, "luo-nothing-unpreserved-handed-over": H,
        "luo-restore-returns-preserved": H, "luo-finish-reclaims-unretrieved": H}
#: a PRESERVE_FD that returned 0 is not handed over: every next-kernel promise of it fails
LOST = {"luo-preserved-restorable": V, "luo-restore-returns-preserved": V,
        "luo-finish-reclaims-unretrieved": V}

PINNED = {
    (("race", True), ("close", True)):
        (6199, {**BASE, **LOST, "luo-nothing-unpreserved-handed-over": V}),
    (("race", True), ("close", False)): (2128, {**BASE, **LOST}),
    (("race", False), ("close", True)): (348, BASE),
    (("race", False), ("close", True), ("nr_folios", 2)): (375, BASE),
    (("race", False), ("close", True), ("fail_allocs", 1)):
        (1309, {**BASE, "deadlock-free": V, "no-preserved-page-lost": V}),
    # the May 2026 fix (luo_session_serialize_rwsem) as a mutant: every LUO promise holds
    (("mutants", "serialize-rwsem"),): (1001, {**BASE, "deadlock-free": V}),
    # vmalloc (memfd's folios_ser) and every other allocation may fail, racing the reboot
    (("fail_allocs", 1),):
        (19448, {**BASE, **LOST, "deadlock-free": V, "no-preserved-page-lost": V,
                 "luo-nothing-unpreserved-handed-over": V}),
}


@pytest.mark.parametrize("params", sorted(PINNED), ids=lambda p: ",".join(f"{k}={v}" for k, v in p))
def test_luo_session_race_pins(params):
    distinct, expected = PINNED[params]
    r = check(build("k6.19", "luo-session-race", dict(params)))
    assert r.exhaustive
    assert {p.name: p.verdict for p in r.properties} == expected
    assert r.distinct == distinct


STATELESS = {k: v for k, v in BASE.items() if k != "finalize-succeeded"}
LATER = {
    # (spec, params): (distinct states, verdicts)
    ("k7.1", ()): (4173, {**STATELESS, **LOST, "luo-nothing-unpreserved-handed-over": V}),
    ("k7.1", (("close", False),)): (1317, {**STATELESS, **LOST}),
    ("k7.1", (("race", False),)): (327, STATELESS),
    ("k7.1", (("mutants", "serialize-rwsem"),)): (860, {**STATELESS, "deadlock-free": V}),
    ("k7.1", (("fail_allocs", 1), ("race", False))): (1186, {**STATELESS, "deadlock-free": V}),
    ("mainline-2026-04", ()): (4275, {**STATELESS, **LOST,
                                      "luo-nothing-unpreserved-handed-over": V}),
    ("mainline-2026-04", (("close", False),)): (1342, {**STATELESS, **LOST}),
    ("mainline-2026-04", (("race", False),)): (333, STATELESS),
    ("mainline-2026-04", (("mutants", "serialize-rwsem"),)): (874, {**STATELESS, "deadlock-free": V}),
    ("mainline-2026-04", (("fail_allocs", 1), ("race", False))):
        (1207, {**STATELESS, "deadlock-free": V}),
}


@pytest.mark.parametrize("spec,params", sorted(LATER),
                         ids=lambda x: x if isinstance(x, str) else ",".join(f"{k}={v}" for k, v in x))
def test_luo_session_race_later_eras(spec, params):
    distinct, expected = LATER[(spec, params)]
    r = check(build(spec, "luo-session-race", dict(params)))
    assert r.exhaustive
    assert {p.name: p.verdict for p in r.properties} == expected
    assert r.distinct == distinct


def test_serialized_sessions_round_trip():
    """The session array and the file array as luo_session_serialize / luo_file_freeze write
    them read back as the next kernel's deserialize reads them."""
    from khomc.kernel.alloc import Obj
    from khomc.kho.k6_19 import ERA
    k = ERA.namespace()
    luo_file_ser, luo_session_ser = k.luo_file_ser, k.luo_session_ser
    header = (1).to_bytes(8, "little") + luo_session_ser("s0") + (1).to_bytes(8, "little") + \
        (0x2000).to_bytes(8, "little")
    files = luo_file_ser("memfd-v1", 0x3000, 7)
    mk = lambda data: Obj("folio", 1, 4096, True, 0, "t", None, None, data)   # noqa: E731
    pages = (None, mk(header), mk(files), None)
    assert k.luo_session_deserialize_in(pages, 0x1000) == (("s0", (("memfd-v1", 7, 0x3000),)),)


def _handovers(spec, scenario, params=()):
    from khomc.runtime.step import Stepper
    m = build(spec, scenario, dict(params))
    stepper = Stepper(m)
    init = stepper.initial()
    seen, todo, out = {init}, [init], []
    slot = [v.name for v in m.vars].index("handover")
    while todo:
        state = todo.pop()
        for _, _, nxt, _ in stepper.expand_footprints(state):
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
        if state[0][slot] is not None:
            out.append(state[0][slot])
    return out


def test_next_kernel_retrieve_and_finish_paths_as_written():
    """luo_next.py on a real 6.19 handover of memfd-luo: RETRIEVE_SESSION twice is -EINVAL,
    an unknown token -ENOENT, a second RETRIEVE_FD returns the same file without restoring
    again, FINISH after it gives nothing more back; a session closed without RETRIEVE_FD has
    its memfd's folios restored by memfd_luo_finish."""
    from khomc.kho.k6_19 import ERA
    k = ERA.namespace()
    h = _handovers("k6.19", "memfd-luo")[0]
    nk = k.boot(h)
    inc = k.luo_incoming(k, nk, h.pages, (k.MEMFD_LUO_HANDLER,))
    assert inc is not None and inc.error == 0 and [s.name for s in inc.list] == ["s0"]
    err, session = k.luo_session_retrieve(inc, "s0")
    assert err == 0 and k.luo_session_retrieve(inc, "s0")[0] == -22
    assert k.luo_session_retrieve(inc, "s1")[0] == -2
    assert k.luo_session_retrieve_fd(inc, session, 2) == (-2, None)
    err, f = k.luo_session_retrieve_fd(inc, session, 1)
    assert err == 0 and [i for i, _, _ in f.folios] == [0, 1]
    before = set(inc.restored)
    assert k.luo_session_retrieve_fd(inc, session, 1) == (0, f) and inc.restored == before
    assert k.luo_session_finish(inc, session) == 0 and session.count == 0
    inc2 = k.luo_incoming(k, nk, h.pages, (k.MEMFD_LUO_HANDLER,))
    _, s2 = k.luo_session_retrieve(inc2, "s0")
    assert k.luo_session_release_incoming(inc2, s2) == 0 and inc2.list == []
    assert {phys >> 12 for _, phys, _ in f.folios} <= inc2.restored
