"""The operator of a LUO-era KHO machine (6.19, 7.1): debugfs finalize, kexec_file_load, kexec.

The steps of tools/testing/selftests/kho/init.c (before 6b0dd42d7681, @82ee50252dc8: write "1"
to ``kho/out/finalize``; then ``kexec_file_load``; then ``reboot(RB_KEXEC)``, which runs
liveupdate_reboot) through the era's adapter.  Each step is ``(name, argument)``, name one of
``finalize``, ``load``, ``kexec``, ``module``; ``module`` runs a driver's init function in this
task (``insmod`` between two steps).  Returns every step's result.
"""

from __future__ import annotations

from khomc.kho.k6_19.kexec_handover import kho_wait_ready


async def operator(kho, steps: tuple):
    await kho_wait_ready(kho)
    results = ()
    i = 0
    while i < len(steps):
        name, arg = steps[i]
        if name == "finalize":
            ret = await kho.debugfs_finalize(arg)
        elif name == "load":
            ret = await kho.kexec_file_load()
        elif name == "kexec":
            ret = await kho.kernel_kexec()
        elif name == "module":
            fn, args = arg
            ret = await fn(kho, *args)
        else:
            raise AssertionError(f"operator: unknown step {name!r}")
        results = results + ((name, ret),)
        i += 1
    return results
