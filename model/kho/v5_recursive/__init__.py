"""Jason Gunthorpe's recursive FDTs as an era on KHO v5: one Delta (the proposal mail).

kexec_handover.py holds the Delta and the functions it replaces on this kernel's side
(``_kexec_file_load``: a 16-byte address/size segment; ``kho_copy_fdt``: write the root's
address there); kexec_handover_in.py the next kernel's side (``boot``).
"""

from khomc.kho import v5
from khomc.kho.ledger import Era
from khomc.kho.v5_recursive import kexec_handover, kexec_handover_in
from khomc.kho.v5_recursive.kexec_handover import D_RECURSIVE

ERA = Era("v5-recursive", base=v5.ERA, deltas=(D_RECURSIVE,),
          doc="v5 + recursive FDTs, 20250321133447.GA251739@nvidia.com")
