"""LUO's reboot hook in 6.19: kernel/liveupdate/luo_core.c@cab056f2aae7.

``liveupdate_reboot``, called by kernel_kexec with the kexec lock held: when live update is
enabled, ``luo_session_serialize`` (its error is returned as is), ``luo_flb_serialize`` (void),
then ``kho_finalize`` whose error - possibly a libfdt one - becomes -EAGAIN (db8bed8082dc).

``luo_global.enabled`` is the scenario's ``luo`` parameter (``liveupdate=on`` on the command
line); the sessions and FLBs a scenario has are luo_session.py's and luo_flb.py's.
"""

from __future__ import annotations

from khomc.kernel.errno import EAGAIN


def liveupdate_enabled(kho) -> bool:
    return kho.luo


async def liveupdate_reboot(kho) -> int:
    if not liveupdate_enabled(kho):
        return 0
    err = await luo_session_serialize(kho)
    if err:
        return err
    await luo_flb_serialize(kho)
    err = await kho_finalize(kho)
    if err:
        err = -EAGAIN
    return err
