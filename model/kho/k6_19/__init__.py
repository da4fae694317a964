"""KHO and LUO in 6.19 (torvalds/linux:kernel/liveupdate/kexec_handover.c@dd03dd60e8cd): the
kernel's files, a base era.

kexec_handover.py mirrors kernel/liveupdate/kexec_handover.c (both halves; kernel_kexec of
kernel/kexec_core.c with it), kexec_handover_debugfs.py kernel/liveupdate/
kexec_handover_debugfs.c@5add3c3c280a, luo_core.py kernel/liveupdate/luo_core.c@0153094d03df,
luo_flb.py kernel/liveupdate/luo_flb.c@cab056f2aae7 (7.x: linked here, called from 7.1 on),
luo_session.py kernel/liveupdate/luo_session.c as stored
at 7f790dd21a93 (a drm-misc-next merge carrying the 6.19 merge window's file; see its header),
luo_file.py kernel/liveupdate/luo_file.c@b2135d1cb0e3 (6.19 merge window), luo_next.py the next
kernel's RETRIEVE_FD / FINISH paths of both, memfd_luo.py mm/memfd_luo.c@02e117b8ca58, test_kho.py
lib/test_kho.c@136114e0abf0 (the newest stored; whether 6.19 had this version of the test -
folios_info through kho_preserve_vmalloc, the order-1 FDT - was not established).

6.19 is a base, not deltas on 6.18: the merge rewrote KHO wholesale (no notifiers, a root FDT
edited in place, a re-runnable finalize, LUO).  Its ledger - the 6.19 merge's KHO commits in
merge order, as listed in a revlist tracking mainline (axboe/linux master, 2025-12-07,
5e5ea7f61610..9e906a9dead1; ../shared/reference/kho-semantics.md §1) - is :data:`LEDGER`; each
is folded into these files (none is a function replacement on 6.18's code, which 70f9133096c8
and 48a1b2321d76 delete and move).
"""

from khomc.kho.ledger import Era

from . import (kexec_handover, kexec_handover_debugfs, luo_core, luo_file, luo_flb, luo_next,
               luo_session, memfd_luo, test_kho)

#: (commit, subject, the 6.19 functions it shaped) - the base's history, oldest first.
LEDGER = (
    ("03d3963464a4", "kho: make debugfs interface optional", "kho_debugfs_fdt_add"),
    ("70f9133096c8", "kho: drop notifiers", "kho_add_subtree, kho_finalize"),
    ("36f8f7ef7fd2", "kho: add interfaces to unpreserve folios, page ranges, and vmalloc",
     "kho_unpreserve_folio, kho_unpreserve_pages, __kho_unpreserve, kho_unpreserve_vmalloc, "
     "kho_vmalloc_unpreserve_chunk"),
    ("99cd2ffac697", "kho: don't unpreserve memory during abort", "kho_finalize"),
    ("48a1b2321d76", "kho: move to kernel/liveupdate", "-"),
    ("8c3819f627b7", "kho: make __kho_abort() return void", "-"),
    ("4c205677af27", "kho: add high-level alloc/free API", "kho_alloc_preserve, kho_unpreserve_free"),
    ("85de0090bd82", "kho: preserve FDT folio only once during initialization", "kho_init"),
    ("53f8f064eba3", "kho: verify deserialization status and fix FDT alignment access",
     "boot (kho_populate)"),
    ("e268689a5282", "kho: always expose output FDT in debugfs", "kho_init"),
    ("71960fe1344c", "kho: simplify serialization and remove __kho_abort", "kho_mem_serialize"),
    ("efa3a9775ac2", "kho: store state in the FDT", "kho_update_memory_map"),
    ("9a4301f715c8", "kho: remove abort functionality and support state refresh",
     "kho_finalize, kho_update_memory_map, kho_out_finalize_set"),
    ("8e068a286aef", "kho: update FDT dynamically for subtree addition/removal",
     "kho_add_subtree, kho_remove_subtree, kho_out_fdt_setup"),
    ("d7255959b69a", "kho: allow kexec load before KHO finalization", "kexec_file_load (kho_fill_kimage)"),
    ("de51999e687c", "kho: allow memory preservation state updates after finalization",
     "__kho_preserve_order, kho_preserve_folio"),
    ("7bd3643f94a3", "kho: Kconfig to enable KHO by default", "-"),
    ("9e2fd062fa17", "liveupdate: luo_core: Live Update Orchestrator", "liveupdate_reboot"),
    ("1aece821004f", "liveupdate: luo_core: integrate with KHO", "liveupdate_reboot"),
    ("db8bed8082dc", "kexec: call liveupdate_reboot() before kexec", "kernel_kexec"),
    ("b3749f174d68", "mm: memfd_luo: allow preserving memfd", "(mm/memfd_luo.c)"),
    ("b2135d1cb0e3", "liveupdate: luo_file: don't use invalid list iterator",
     "(kernel/liveupdate/luo_file.c, the version modelled)"),
)

ERA = Era("k6.19", base=(kexec_handover, kexec_handover_debugfs, luo_core, luo_session,
                         luo_file, luo_flb, luo_next, memfd_luo, test_kho),
          doc="KHO/LUO as merged in 6.19: kernel/liveupdate/kexec_handover.c@dd03dd60e8cd "
              "(a base: the merge rewrote KHO; its commits are LEDGER)")
