"""KHO in mainline as of April 2026 (after 9ec953298948, "kho: fix error handling in
kho_add_subtree()", picked for linux-next pending-fixes on 2026-04-28): 7.1 plus the blob-size
change and its fix, each a delta in kexec_handover.py.  Named by date: the release these
commits first appear in could not be established from the stored sources.
"""

from khomc.kho.ledger import Era
from khomc.kho import k7_1

from .kexec_handover import D_9ec953298948, D_blob_size

ERA = Era("mainline-2026-04", base=k7_1.ERA, deltas=(D_blob_size, D_9ec953298948),
          doc="KHO after 9ec953298948: kho_add_subtree(name, blob, size) with blob-size")
