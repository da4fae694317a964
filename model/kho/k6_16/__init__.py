"""KHO as merged in 6.16 (torvalds/linux:kernel/kexec_handover.c@00c010e130e5): the kernel's files.

kexec_handover.py mirrors this kernel's half of kernel/kexec_handover.c (kho_out, preservation,
debugfs, notifiers, finalize/abort, kho_fill_kimage); kexec_handover_in.py the next kernel's
half (kho_populate, kho_mem_deserialize, kho_retrieve_subtree, kho_restore_folio); test_kho.py
lib/test_kho.c.  6.17 (khomc.kho.k6_17) and 6.18 (khomc.kho.k6_18) are commit ledgers on top.
"""

from khomc.kho.ledger import Era
from khomc.kho.k6_16 import kexec_handover, kexec_handover_in, test_kho

ERA = Era("k6.16", base=(kexec_handover, kexec_handover_in, test_kho),
          doc="the 6.16 merge, torvalds/linux:kernel/kexec_handover.c@00c010e130e5")
