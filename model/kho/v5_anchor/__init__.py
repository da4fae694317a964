"""Changyuan Lyu's anchor pages as an era on KHO v5: one Delta (the proposal mail).

kexec_handover.py holds the Delta and the functions it replaces on this kernel's side
(``_kexec_file_load``, i.e. kho_fill_kimage's segment, and ``kho_copy_fdt``);
kexec_handover_in.py the next kernel's side (``boot``: walk the anchors, then v5's
kho_populate / kho_mem_deserialize).
"""

from khomc.kho import v5
from khomc.kho.ledger import Era
from khomc.kho.v5_anchor import kexec_handover, kexec_handover_in
from khomc.kho.v5_anchor.kexec_handover import D_ANCHOR

ERA = Era("v5-anchor", base=v5.ERA, deltas=(D_ANCHOR,),
          doc="v5 + anchor pages, 20250323190204.742672-1-changyuanl@google.com")
