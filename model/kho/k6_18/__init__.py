"""KHO in 6.18: 6.17 plus the commits of the 6.18 merge window and its -rc fixes, as a ledger
(khomc.kho.k6_18.kexec_handover for this kernel's half, kexec_handover_in for the next
kernel's)."""

from khomc.kho.ledger import Era
from khomc.kho import k6_17
from khomc.kho.k6_18 import kexec_handover_in, vmalloc  # noqa: F401  (register their deltas' functions)
from khomc.kho.k6_18.kexec_handover import D_20571b187051, D_469661d0d3a5, D_8375b76517cb, D_89a3ecca49ee, D_90eb9ae35727, D_a2fff99f92da, D_a667300bd53f, D_b05addf6f059, D_e38f65d317df, D_f322a97aeb2a, D_fa759cd75bce

DELTAS = (D_89a3ecca49ee, D_20571b187051, D_469661d0d3a5, D_8375b76517cb, D_a667300bd53f,
          D_90eb9ae35727, D_f322a97aeb2a, D_b05addf6f059, D_fa759cd75bce, D_a2fff99f92da,
          D_e38f65d317df)

ERA = Era("k6.18", base=k6_17.ERA, deltas=DELTAS, doc="v6.18: 6.17 + the 6.18 KHO commits")
