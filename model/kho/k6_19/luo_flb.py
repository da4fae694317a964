"""LUO file-lifecycle-bound (FLB) objects: kernel/liveupdate/luo_flb.c@cab056f2aae7.

Not in 6.19: cab056f2aae7 ("liveupdate: luo_flb: introduce File-Lifecycle-Bound global state",
2025-12-18) came after the 6.19 merge window; 6.19's liveupdate_reboot does not call it, 7.1's
ledger delta D_cab056f2aae7 (model/kho/k7_1/luo_core.py) adds the call.  The file sits with the
6.19 base files so that the later eras link it.

``luo_flb_serialize`` (void) records every registered FLB's outgoing data.  No scenario of this
era registers an FLB (no file handler with FLBs is loaded), so the walk is empty; stated here
rather than hidden (see luo_session.py).
"""

from __future__ import annotations


async def luo_flb_serialize(kho) -> None:
    return None
