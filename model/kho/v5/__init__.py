"""KHO v5, the seed (Lyu, 20250320015551.2157511-1-changyuanl@google.com): the kernel's files.

kexec_handover.py mirrors this kernel's half of kernel/kexec_handover.c as posted (patches
07, 09 and 10 of the series); kexec_handover_in.py the next kernel's half (patches 08 and 09:
kho_populate, kho_get_node / kho_get_prop, kho_mem_deserialize, kho_restore_folio /
kho_restore_phys).  ``ERA`` is the posted series as one base: the seed thread's proposals
(khomc.kho.v5_recursive, khomc.kho.v5_anchor) are eras on top of it, one Delta each.
"""

from khomc.kho.ledger import Era
from khomc.kho.v5 import kexec_handover, kexec_handover_in

ERA = Era("v5", base=(kexec_handover, kexec_handover_in),
          doc="v5 series as posted, 20250320015551.2157511-1-changyuanl@google.com")
