"""KHO 6.18: the 6.16 scenarios and bounds built on the 6.18 era (6.16 + the 6.17 and 6.18 ledgers).

The scenarios are :mod:`khomc.scenarios.k6_16`'s, built on ``khomc.kho.k6_18.ERA``; what each
commit changes is the era's ledger (``khomc list``), and which commit flips which verdict is
``khomc bisect``'s to say.  Sources: torvalds/linux:kernel/kexec_handover.c at v6.18 and the
commits listed in khomc.kho.k6_18.kexec_handover.
"""

from __future__ import annotations

from khomc.kho import k6_18
from khomc.scenarios import k6_16 as base

ERA = k6_18.ERA
PREVIOUS = "k6.17"
CHANGES = (
    "6.18 keeps 6.16's design and changes its semantics in nine commits (torvalds/linux, "
    "kernel/kexec_handover.c): restore requires the 'KHOP' magic in page->private and clears "
    "it, so a second restore of a page returns NULL (89a3ecca49ee); the unlocked finalized "
    "check moves into __kho_preserve_order, so every block of a range is checked "
    "(469661d0d3a5); kho_preserve_pages(page, nr) replaces kho_preserve_phys (8375b76517cb); "
    "kho_fill_kimage returns early unless KHO is finalized at kexec_file_load time "
    "(f322a97aeb2a), so loading before finalizing hands over no KHO state at all; "
    "__kho_unpreserve stops instead of spinning on a missing bitmap (b05addf6f059); the "
    "tracker's bitmaps and chunks come from the page allocator, still freed with kfree "
    "(fa759cd75bce), each bitmap a page (a2fff99f92da); and the scratch-overlap checks, real "
    "only with CONFIG_KEXEC_HANDOVER_DEBUG (e38f65d317df).")

SCENARIOS = base.scenarios_for(ERA)

# three interchangeable clients (issue 12 item 6), checked up to symmetry: k6_16.THREE_PRESERVERS
SCENARIOS = SCENARIOS + base.scenarios_for(ERA, (base.THREE_PRESERVERS,), (), (),
                                           {"three-preservers"})
