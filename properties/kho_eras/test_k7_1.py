"""KHO 7.1 (stateless, radix tree): every scenario x property, verdicts and state counts pinned.

No VIOLATED verdict.  Where 6.19 broke and 7.1 fixed it, both are shown:

* test-kho-race / no-preserved-page-lost: VIOLATED on k6.19 (a preserve that completes after
  liveupdate_reboot's finalize walked the tracker is in no chunk), HOLDS on k7.1 - the radix
  tree is handed over itself (its root address is in the root FDT from kho_init on), so every
  kho_radix_add_page that returned before machine_kexec is seen by the next kernel.
* refinalize-race has no 7.1 counterpart: there is no finalize, no chunk list to free.
"""

import pytest

from khomc.engines.result import Verdict
from khomc.engines.search import check
from khomc.registry import build, scenarios

H, V = Verdict.HOLDS, Verdict.VIOLATED

BUILTIN = {"assertions": H, "deadlock-free": H, "terminates": H}
PROMISES = {"conversion-race-free": H, "no-preserved-page-lost": H, "memory-safety": H}
GUARDS = {"kexec-reached": H, "next-kernel-revived": H}
ALL = {**BUILTIN, **PROMISES, **GUARDS}

PINNED = {
    "test-kho": (49, {**ALL, "kho-restore-succeeded": H}),
    "test-kho-race": (288, {**ALL, "kho-restore-succeeded": H}),
    "fdbox-race": (10174, ALL),
    "fdt-max-grow": (25, ALL),
}


def test_every_k7_1_scenario_is_pinned():
    assert {s.name for s in scenarios("k7.1")} - {"memfd-luo"} == set(PINNED)  # memfd-luo: test_memfd_luo.py


@pytest.mark.parametrize("name", sorted(PINNED))
def test_k7_1_scenario_verdicts_and_state_count(name):
    distinct, expected = PINNED[name]
    r = check(build("k7.1", name))
    assert r.exhaustive
    assert {p.name: p.verdict for p in r.properties} == expected
    assert r.distinct == distinct
    assert r.seconds < 20, f"{name} took {r.seconds:.1f} s: no longer a default-size scenario"


def test_the_race_6_19_loses_is_closed_in_7_1():
    old = check(build("k6.19", "test-kho-race")).property("no-preserved-page-lost")
    new = check(build("k7.1", "test-kho-race")).property("no-preserved-page-lost")
    assert (old.verdict, new.verdict) == (V, H)


def test_test_kho_with_allocation_failures_still_restores_or_cold_boots():
    r = check(build("k7.1", "test-kho", {"fail_allocs": 1}))
    assert {p.name: p.verdict for p in r.properties} == {**ALL, "kho-restore-succeeded": H}


def test_radix_key_round_trips():
    from khomc.kho.k7_1.kexec_handover import decode_key, encode_key
    for pfn in range(1, 40):
        for order in (0, 1, 3):
            phys = (pfn << order) << 12
            assert decode_key(encode_key(phys, order)) == (phys, order)
