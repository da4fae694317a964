"""KHO in mainline after 9ec953298948 (April 2026): scenarios.

The shared LUO-era scenarios of :mod:`khomc.scenarios.luo` on the linked kernel of
:data:`khomc.kho.mainline_2026_04.ERA` (7.1 plus the blob-size change and 9ec953298948;
builders take ``kernel=None``).  subtree-full is the one whose verdict the fix flips.
"""

from __future__ import annotations

import functools

from khomc.runtime import Scenario
from khomc.scenarios.params import declare
from khomc.scenarios import luo as luo
from khomc.kho.mainline_2026_04 import ERA

PREVIOUS = "k7.1"
CHANGES = (
    "kho_add_subtree takes (name, blob, size) and writes a blob-size property next to "
    "preserved-data, which kho_retrieve_subtree requires (Breno Leitao's kexec-metadata series, "
    "20260126-kho-v5-0-7cd0f69ab204@debian.org); 9ec953298948 then deletes the node when an "
    "fdt_setprop fails and returns -ENOMEM instead of the raw libfdt error.  Source: the fix "
    "mail 20260410-kho_fix_send-v2-1-1b4debf7ee08@debian.org (diff against blob 94762de1fe5f).")


def _on(fn):
    @functools.wraps(fn)
    def build(kernel=None, **params):
        return fn(kernel or ERA.namespace(), **params)
    return build


SCENARIOS = [
    Scenario("test-kho", _on(luo.test_kho_scenario),
             {"pages": 8, "fail_allocs": 0, "mutants": "", "luo": True, "finalize": True},
             "lib/test_kho.c at boot; load, kexec; restore in the next kernel"),
    Scenario("test-kho-race", _on(luo.test_kho_race),
             {"pages": 8, "fail_allocs": 0, "mutants": ""},
             "lib/test_kho.c's init || load, kexec"),
    Scenario("fdbox-race", _on(luo.fdbox_race),
             {"pages": 8, "fail_allocs": 0, "fdt_max": luo.FDT_MAX, "mutants": ""},
             "FDBox x2 save/drop an fd || load, kexec"),
    Scenario("fdt-max-grow", _on(luo.fdt_max_grow),
             {"pages": 8, "fail_allocs": 0, "fdt_max": 4096, "mutants": ""},
             "load, then a user links a 5 KiB FDT, then kexec"),
    Scenario("memfd-luo", _on(luo.memfd_luo_scenario),
             {"pages": 8, "fail_allocs": 0, "mutants": ""},
             "a 2-page memfd preserved through LUO; load, kexec; memfd_luo_retrieve checks it"),
    Scenario("subtree-full", _on(luo.subtree_full),
             {"pages": 8, "fail_allocs": 0, "mutants": ""},
             "a user fills the root FDT with subtrees until kho_add_subtree fails || load, kexec"),
    Scenario("preserve-pages-race", _on(luo.preserve_pages_race),
             {"pages": 8, "fail_allocs": 0, "mutants": ""},
             "kho_preserve_pages of 3 pages (then maybe unpreserve) || load, kexec"),
]
SCENARIOS = declare(SCENARIOS)
