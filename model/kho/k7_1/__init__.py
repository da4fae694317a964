"""KHO in 7.1 (torvalds/linux:kernel/liveupdate/kexec_handover.c@019fc3687237): 6.19 plus the
two commits of the stateless series (Jason Miu, v9), each a delta that replaces the functions
it changes; kexec_handover.py holds them, in merge order.

The other 7.1 KHO commits between dd03dd60e8cd and 019fc3687237 that the model's functions do
not see (e.g. 63de231ef02a "kho: move alloc tag init to kho_init_{folio,pages}()", which
only moves page-struct initialisation of restored pages) are not deltas.
"""

from khomc.kho.ledger import Era
from khomc.kho import k6_19

from .kexec_handover import D_3f2ad90060f6, D_6b0dd42d7681

ERA = Era("k7.1", base=k6_19.ERA, deltas=(D_3f2ad90060f6, D_6b0dd42d7681),
          doc="KHO 7.1: the radix tree handed over directly, no finalize "
              "(kernel/liveupdate/kexec_handover.c@019fc3687237)")
