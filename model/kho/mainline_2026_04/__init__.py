"""KHO in mainline as of April 2026 (after 9ec953298948, "kho: fix error handling in
kho_add_subtree()", picked for linux-next pending-fixes on 2026-04-28): 7.1 plus the blob-size
change, 00d0b372374f "liveupdate: prevent double management of files" (luo_file.py) and the
kho_add_subtree fix, each a delta, in the order of the mm revlist of 2026-04-18.  Named by date: the release these
commits first appear in could not be established from the stored sources.
"""

from khomc.kho.ledger import Era
from khomc.kho import k7_1

from .kexec_handover import D_9ec953298948, D_blob_size
from .luo_file import D_00d0b372374f

ERA = Era("mainline-2026-04", base=k7_1.ERA, deltas=(D_blob_size, D_00d0b372374f, D_9ec953298948),
          doc="KHO after 9ec953298948: kho_add_subtree(name, blob, size) with blob-size")
