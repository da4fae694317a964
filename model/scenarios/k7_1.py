"""KHO 7.1 (torvalds/linux:kernel/liveupdate/kexec_handover.c@019fc3687237): scenarios.

The shared LUO-era scenarios of :mod:`khomc.scenarios.luo` on the linked 7.1 kernel
(:data:`khomc.kho.k7_1.ERA`, 6.19 plus two deltas; builders take ``kernel=None``);
the operator never finalizes (there is nothing to finalize).
"""

from __future__ import annotations

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


SCENARIOS = luo.stateless_scenarios(ERA)
