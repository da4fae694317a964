"""The seed thread's proposals as variants of v5: every scenario x property pinned, side by side
with v5's verdict on the same scenario.

* v5-recursive (Jason Gunthorpe's recursive FDTs, model/scenarios/v5_recursive.py) and v5-anchor
  (Changyuan Lyu's anchor pages, model/scenarios/v5_anchor.py) both run ``fdt-max-grow`` and
  ``fdbox-race`` with v5's meaning.
* No VIOLATED verdict on either proposal.  The one VIOLATED verdict shown here is v5's own:
  fdt-max-grow / memory-safety, a design flaw of v5 (kho_fill_kimage sizes the kho-fdt
  ksegment from fdt_max at kexec_file_load, debugfs lets fdt_max grow afterwards, and
  kho_copy_fdt memcpy()s the larger FDT past the segment; trace
  traces/corpus/v5-fdt-max-grow-memory-safety.json).  Both proposals close it: the recursive
  root is one fixed page and the image carries only its 16-byte address/size; the anchor
  scheme lists the blob's pages (over two linked anchors in this scenario) instead of
  copying into a pre-sized segment.
* What the anchor scheme adds - the blob pages and linked anchors are ordinary old-kernel memory
  the next kernel must reserve and read - is checked by memory-safety (every such page is
  still allocated at machine_kexec) and no-preserved-page-lost (only KHO metadata is reserved
  besides preserved pages); both hold, because only kho_unfreeze frees the blob and debugfs
  cannot run it while kernel_kexec holds the kexec lock and fills the anchor.
"""


import pytest

from khomc.engines.result import Verdict
from khomc.engines.search import check
from khomc.registry import build, scenarios

H, V = Verdict.HOLDS, Verdict.VIOLATED

BUILTIN = {"assertions": H, "deadlock-free": H, "terminates": H}
PROMISES = {"conversion-race-free": H, "no-preserved-page-lost": H, "memory-safety": H,
            "nothing-reserved-unpreserved": H, "tracker-frozen": H, "fdt-segment-valid": H,
            "nothing-in-scratch": H}
GUARDS = {"kexec-reached": H, "finalize-succeeded": H, "next-kernel-revived": H}
ALL = {**BUILTIN, **PROMISES, **GUARDS}

PINNED = {
    ("v5-recursive", "fdt-max-grow"): (34, ALL),
    ("v5-recursive", "fdbox-race"): (86257, {**ALL, "add-after-freeze-refused": H}),
    ("v5-anchor", "fdt-max-grow"): (22, ALL),
    ("v5-anchor", "fdbox-race"): (47239, {**ALL, "add-after-freeze-refused": H}),
}


@pytest.mark.parametrize("spec", ["v5-recursive", "v5-anchor"])
def test_every_proposal_scenario_is_pinned(spec):
    three = {"three-preservers"}   # pinned in properties/kho_eras/test_three_clients.py
    assert {(spec, s.name) for s in scenarios(spec) if s.name not in three} == \
        {k for k in PINNED if k[0] == spec}


@pytest.mark.parametrize("spec,name", sorted(PINNED))
def test_proposal_verdicts_and_state_count(spec, name):
    distinct, expected = PINNED[(spec, name)]
    r = check(build(spec, name))
    assert r.exhaustive
    assert {p.name: p.verdict for p in r.properties} == expected
    assert r.distinct == distinct


@pytest.mark.parametrize("spec", ["v5-recursive", "v5-anchor"])
def test_fdt_max_grow_overflow_of_v5_is_closed(spec):
    old = check(build("v5", "fdt-max-grow")).property("memory-safety")
    new = check(build(spec, "fdt-max-grow")).property("memory-safety")
    assert (old.verdict, new.verdict) == (V, H)
    assert "kho_copy_fdt" in old.trace.steps[-1].changes["kasan"][1]


def test_anchor_chain_is_walked_and_reserved():
    """Two blob pages over two anchors (slots = 1): the next kernel lists both blob pages and
    reserves the linked anchor page too."""
    from types import SimpleNamespace

    from khomc.kernel.alloc import Obj
    from khomc.kernel.kexec import Kimage, Segment
    from khomc.kho.v5_anchor.kexec_handover import anchor_bytes
    from khomc.kho.v5_anchor.kexec_handover_in import walk_anchors
    linked = Obj("page", 1, 4096, True, 0, "kho_fill_anchors", None, None,
                 anchor_bytes(0, (0x6000,)))
    pages = (None,) * 7 + (linked,)
    image = Kimage(True, (Segment("kho-anchor", 0x4000_0000, 4096,
                                  anchor_bytes(0x7000, (0x5000,))),))
    blob_pages, anchors = walk_anchors(SimpleNamespace(image=image, pages=pages))
    assert blob_pages == (0x5000, 0x6000) and anchors == {7}


def test_proposals_declare_their_predecessor():
    from khomc.scenarios import v5_anchor as v5_anchor
    from khomc.scenarios import v5_recursive as v5_recursive
    for mod in (v5_anchor, v5_recursive):
        assert mod.PREVIOUS == "v5" and "@" in mod.CHANGES


def test_each_proposal_is_one_delta_on_v5_named_by_its_mail():
    """The proposals are eras on v5's ledger: one Delta each, its commit the proposal mail's
    Message-ID, replacing the kexec hand-off (and the next kernel's boot) only."""
    from khomc.kho import v5, v5_anchor, v5_recursive
    for era, mail in ((v5_recursive.ERA, "20250321133447.GA251739@nvidia.com"),
                      (v5_anchor.ERA, "20250323190204.742672-1-changyuanl@google.com")):
        assert era.previous is v5.ERA and [d.commit for d in era.ledger()] == [mail]
        assert {"_kexec_file_load", "kho_copy_fdt", "boot", "root_blob"} <= set(era.deltas[0].changes)
        base, full = era.namespace(0), era.namespace()
        assert base.kho_copy_fdt.__code__ is v5.ERA.namespace().kho_copy_fdt.__code__
        assert full.kho_copy_fdt.__code__ is not base.kho_copy_fdt.__code__


@pytest.mark.parametrize("spec", ["v5-anchor"])
def test_bisect_names_the_proposal_on_fdt_max_grow(spec):
    """Built on the anchor era's ledger without its Delta, fdt-max-grow is v5's overflow again
    (the fdt_max segment, then fdt_max raised); with the Delta it holds: the Delta is the
    commit that flips memory-safety.  (v5-recursive's fdt-max-grow grows a user's own FDT,
    not the root, so it holds on both prefixes.)"""
    import importlib
    mod = importlib.import_module("khomc.scenarios." + spec.replace("-", "_"))
    verdicts = [check(mod.fdt_max_grow(kernel=mod.ERA.namespace(k))).property("memory-safety")
                .verdict for k in (0, 1)]
    assert verdicts == [V, H]
