"""LUO's core in the 7.1 ledger: the FLB call in liveupdate_reboot.

:data:`D_cab056f2aae7` "liveupdate: luo_flb: introduce File-Lifecycle-Bound global state"
(kernel/liveupdate/luo_core.c@cab056f2aae7, 2025-12-18, after the 6.19 merge window, so in the
7.x line before 3f2ad90060f6): ``liveupdate_reboot`` calls ``luo_flb_serialize()`` (void) between
``luo_session_serialize`` and ``kho_finalize``.  The same commit adds the FLB hooks to luo_file.c
(``luo_flb_file_preserve`` / ``_unpreserve`` / ``_finish``); memfd registers no FLB, so each walks
an empty flb_list and takes no step in the model - they are not written out.
"""

from __future__ import annotations

from khomc.kernel.errno import EAGAIN
from khomc.kho.ledger import Delta

D_cab056f2aae7 = Delta("cab056f2aae7",
                       "liveupdate: luo_flb: introduce File-Lifecycle-Bound global state")


@D_cab056f2aae7.replaces
async def liveupdate_reboot(kho) -> int:
    if not await liveupdate_enabled_now(kho):
        return 0
    err = await luo_session_serialize(kho)
    if err:
        return err
    await luo_flb_serialize(kho)
    err = await kho_finalize(kho)
    if err:
        err = -EAGAIN
    return err


from khomc.kho.k6_19.kexec_handover import kho_finalize  # noqa: E402,F401
from khomc.kho.k6_19.luo_core import liveupdate_enabled_now  # noqa: E402,F401
from khomc.kho.k6_19.luo_flb import luo_flb_serialize  # noqa: E402,F401
from khomc.kho.k6_19.luo_session import luo_session_serialize  # noqa: E402,F401
