"""KHO in 7.1 (torvalds/linux:kernel/liveupdate/kexec_handover.c@019fc3687237): 6.19 plus
cab056f2aae7 (LUO's FLB, luo_core.py) and the two commits of the stateless series (Jason Miu,
v9), each a delta that replaces the functions it changes, in merge order.

LUO between 6.19 and 7.1 as far as the stored sources show it: luo_session.c is unchanged (the
May 2026 luo_session_serialize_rwsem is later); luo_file.c's 7.x changes (FLB hooks, a failed
retrieve's status kept, unfreeze no longer zeroing serialized_data) are known only from the
stored 00d0b372374f, an mm-tree commit of April 2026 that mainline-2026-04 carries; 7.1 keeps
6.19's b2135d1cb0e3 (the commits and their place relative to 019fc3687237 were not established).

The other 7.1 KHO commits between dd03dd60e8cd and 019fc3687237 that the model's functions do
not see (e.g. 63de231ef02a "kho: move alloc tag init to kho_init_{folio,pages}()", which
only moves page-struct initialisation of restored pages) are not deltas.
"""

from khomc.kho.ledger import Era
from khomc.kho import k6_19

from .kexec_handover import D_3f2ad90060f6, D_6b0dd42d7681
from .luo_core import D_cab056f2aae7

ERA = Era("k7.1", base=k6_19.ERA, deltas=(D_cab056f2aae7, D_3f2ad90060f6, D_6b0dd42d7681),
          doc="KHO 7.1: the radix tree handed over directly, no finalize "
              "(kernel/liveupdate/kexec_handover.c@019fc3687237)")
