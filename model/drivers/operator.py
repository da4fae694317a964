"""The operator of a KHO v5 machine: debugfs writes, kexec_file_load and kexec, in a fixed order.

The steps of the v5 cover letter's usage (20250320015551.2157511-1-changyuanl@google.com) and of
tools/testing/selftests/kho: ``echo N > kho/out/fdt_max``, ``echo 1 > kho/out/finalize``,
``echo 0 > kho/out/finalize``, ``kexec -s -l`` (kexec_file_load) and ``kexec -e``
(reboot(LINUX_REBOOT_CMD_KEXEC)).  Each step is ``(name, argument)`` with name one of
``finalize``, ``fdt_max``, ``load``, ``kexec``; the task returns every step's result.
"""

from __future__ import annotations

from khomc.kho.v5 import kexec_handover as v5


async def operator(kho, steps: tuple):
    results = ()
    i = 0
    while i < len(steps):
        name, arg = steps[i]
        if name == "finalize":
            ret = await kho.kernel.kho_out_finalize_set(kho, arg)
        elif name == "fdt_max":
            ret = await kho.kernel.kho_out_fdt_max_set(kho, arg)
        elif name == "load":
            ret = await kho.kernel.kexec_file_load(kho)
        elif name == "kexec":
            ret = await kho.kernel.kernel_kexec(kho)
        else:
            raise AssertionError(f"operator: unknown step {name!r}")
        results = results + ((name, ret),)
        i += 1
    return results
