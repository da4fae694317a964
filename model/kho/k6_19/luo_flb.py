"""LUO file-lifecycle-bound (FLB) objects in 6.19: kernel/liveupdate/luo_flb.c@cab056f2aae7.

``luo_flb_serialize`` (void) records every registered FLB's outgoing data.  No scenario of this
era registers an FLB (no file handler with FLBs is loaded), so the walk is empty; stated here
rather than hidden (see luo_session.py).
"""

from __future__ import annotations


async def luo_flb_serialize(kho) -> None:
    return None
