"""Every KHO promise can fail: on a mutant of v5 that breaks one rule, the property is VIOLATED.

The mutants are in khomc.kho.v5.kexec_handover.MUTANTS; each run here is exhaustive and small.
"""

import pytest

from khomc.engines.result import Verdict
from khomc.engines.search import check
from khomc.registry import build

V = Verdict.VIOLATED

# the second finalize of notifier-refinalize fails (one injected allocation failure), so
# kho_unfreeze runs twice: the mutant's stale first_chunk_phys is walked again
TWICE = {"fail_allocs": 1, "fdboxes": 0}

CASES = [
    # (property, scenario, extra parameters, mutant)
    ("conversion-race-free", "autofinalize", {}, "add-skips-freeze-check"),
    ("conversion-race-free", "autofinalize", {}, "serialize-before-freeze"),
    ("no-preserved-page-lost", "autofinalize", {}, "preserve-skips-freeze-check"),
    ("no-preserved-page-lost", "autofinalize", {}, "serialize-before-freeze"),
    ("tracker-frozen", "autofinalize", {}, "preserve-skips-freeze-check"),
    ("nothing-reserved-unpreserved", "autofinalize", {}, "preserve-skips-freeze-check"),
    ("fdt-segment-valid", "autofinalize", {}, "copy-skips-autofinalize"),
    ("nothing-in-scratch", "autofinalize", {}, "scratch-overlaps-memory"),
    ("memory-safety", "notifier-refinalize", TWICE, "unfreeze-keeps-chunk-pointer"),
    ("deadlock-free", "notifier-adds", {}, "chain-under-tree-lock"),
    ("add-after-freeze-refused", "autofinalize", {}, "add-skips-freeze-check"),
    # a driver that busy-waits on -EBUSY never finishes once KHO froze: a fair cycle
    ("terminates", "autofinalize", {}, "fdbox-retries-ebusy"),
]


@pytest.mark.parametrize("prop,scenario,params,mutant", CASES,
                         ids=[f"{c[0]}-{c[3]}" for c in CASES])
def test_property_fails_on_mutant(prop, scenario, params, mutant):
    r = check(build("v5", scenario, {**params, "mutants": mutant}))
    assert r.property(prop).verdict is V, r.property(prop).message
    unmutated = check(build("v5", scenario, params))
    if params is TWICE:
        # v5 as posted fails here too, by its own debugfs bug (scenario stale-debugfs-dentry:
        # a double free in debugfs_remove); the mutant's failure is the chunk-list walk
        got = unmutated.property(prop)
        assert got.verdict is V and "debugfs_remove" in got.trace.steps[-1].changes["kasan"][1]
        assert "kho_mem_ser_free" in r.property(prop).trace.steps[-1].changes["kasan"][1]
    else:
        assert unmutated.property(prop).verdict is Verdict.HOLDS


def test_stale_chunk_pointer_is_reported_where_the_second_unfreeze_walks_it():
    """The second kho_unfreeze walks the already freed chunk list: KASAN reports the read of
    its next pointer, which the first kho_mem_ser_free freed."""
    r = check(build("v5", "notifier-refinalize", {**TWICE,
                                                  "mutants": "unfreeze-keeps-chunk-pointer"}))
    report = r.property("memory-safety").trace.steps[-1].changes["kasan"][1]
    assert "use-after-free" in report
    assert "Read in kho_mem_ser_free" in report
    assert "freed='task operator at kho_mem_ser_free'" in report


def test_unknown_mutant_is_refused():
    with pytest.raises(Exception, match="unknown v5 mutants"):
        build("v5", "autofinalize", {"mutants": "no-such-mutant"})


def test_code_mutants_are_deltas_on_top_of_the_era():
    """A code mutant is a Delta (commit ``mutant:<name>``) linked as an era on v5; no kernel
    function of v5 reads a mutant flag."""
    import inspect
    from khomc.kho import v5
    from khomc.kho.v5 import kexec_handover, mutants
    m = build("v5", "autofinalize", {"mutants": "serialize-before-freeze"})
    kho = next(t.args[0] for t in m.tasks if t.name == "operator")
    assert kho.kernel.ERA.name == "v5+serialize-before-freeze"
    assert kho.kernel.ERA.base is v5.ERA
    assert [d.commit for d in kho.kernel.APPLIED] == ["mutant:serialize-before-freeze"]
    src = inspect.getsource(kexec_handover)
    assert "in kho.mutants" not in src
    assert set(mutants.DELTAS) | mutants.FLAGS == set(kexec_handover.MUTANTS)


def test_a_mutant_of_a_replaced_function_is_refused():
    """v5-anchor replaces kho_copy_fdt: v5's copy mutant does not apply to it."""
    with pytest.raises(Exception, match="copy-skips-autofinalize replaces v5's kho_copy_fdt"):
        build("v5-anchor", "fdbox-race", {"mutants": "copy-skips-autofinalize"})
