"""KHO 7.1 (torvalds/linux:kernel/liveupdate/kexec_handover.c@019fc3687237): scenarios.

The shared LUO-era scenarios of :mod:`khomc.scenarios.luo` on the linked 7.1 kernel
(:data:`khomc.kho.k7_1.ERA`, 6.19 plus two deltas; builders take ``kernel=None``);
the operator never finalizes (there is nothing to finalize).
"""

from __future__ import annotations

import functools

from khomc.runtime import Scenario
from khomc.scenarios.params import declare
from khomc.scenarios import luo as luo
from khomc.kho.k7_1 import ERA

PREVIOUS = "k6.19"
CHANGES = (
    "7.1 makes KHO stateless: the xarray-of-bitmaps tracker and its chunk list are replaced by "
    "a radix tree of page-sized nodes under its own mutex (kho_radix_add_page / "
    "kho_radix_del_page, 3f2ad90060f6), whose root address is written into the root FDT once at "
    "init and handed over as is; kho_finalize, its debugfs file and the finalized state are "
    "removed (6b0dd42d7681); the ABI becomes kho-v2 with subtrees under preserved-data, and the "
    "next kernel walks the tree (kho_mem_retrieve).  Source: torvalds/linux:kernel/liveupdate/"
    "kexec_handover.c@019fc3687237, include/linux/kho/abi/kexec_handover.h@3f2ad90060f6.")


def _on(fn):
    @functools.wraps(fn)
    def build(kernel=None, **params):
        return fn(kernel or ERA.namespace(), **params)
    return build


SCENARIOS = [
    Scenario("test-kho", _on(luo.test_kho_scenario),
             {"pages": 8, "fail_allocs": 0, "mutants": "", "luo": True, "finalize": True},
             "lib/test_kho.c at boot; load, kexec; restore in the next kernel"),
    Scenario("test-kho-race", _on(luo.test_kho_race),
             {"pages": 8, "fail_allocs": 0, "mutants": ""},
             "lib/test_kho.c's init || load, kexec"),
    Scenario("fdbox-race", _on(luo.fdbox_race),
             {"pages": 8, "fail_allocs": 0, "fdt_max": luo.FDT_MAX, "mutants": ""},
             "FDBox x2 save/drop an fd || load, kexec"),
    Scenario("fdt-max-grow", _on(luo.fdt_max_grow),
             {"pages": 8, "fail_allocs": 0, "fdt_max": 4096, "mutants": ""},
             "load, then a user links a 5 KiB FDT, then kexec"),
    Scenario("memfd-luo", _on(luo.memfd_luo_scenario),
             {"pages": 8, "fail_allocs": 0, "mutants": ""},
             "a 2-page memfd preserved through LUO; load, kexec; memfd_luo_retrieve checks it"),
    Scenario("subtree-full", _on(luo.subtree_full),
             {"pages": 8, "fail_allocs": 0, "mutants": ""},
             "a user fills the root FDT with subtrees until kho_add_subtree fails || load, kexec"),
    Scenario("preserve-pages-race", _on(luo.preserve_pages_race),
             {"pages": 8, "fail_allocs": 0, "mutants": ""},
             "kho_preserve_pages of 3 pages (then maybe unpreserve) || load, kexec"),
]
SCENARIOS = declare(SCENARIOS)
