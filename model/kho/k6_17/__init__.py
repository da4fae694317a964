"""KHO in 6.17: the 6.16 merge plus the three hotfixes of 6.17-rc3 (khomc.kho.k6_17.kexec_handover)."""

from khomc.kho.ledger import Era
from khomc.kho import k6_16
from khomc.kho.k6_17.kexec_handover import DELTAS

ERA = Era("k6.17", base=k6_16.ERA, deltas=DELTAS,
          doc="v6.17: 6.16 + 63b17b653df3, 8b66ed2c3f42, 44958f2025ed")
