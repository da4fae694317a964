"""KHO 6.19 (torvalds/linux:kernel/liveupdate/kexec_handover.c@dd03dd60e8cd): scenarios.

The shared LUO-era scenarios of :mod:`khomc.scenarios.luo` on the linked 6.19 kernel
(:data:`khomc.kho.k6_19.ERA`; every builder takes ``kernel=None``, a ledger prefix for bisect),
plus ``refinalize-race``, which only this era has (a re-runnable finalize).  Parameters:
``pages`` (each task's physical pages), ``fail_allocs`` (allocation failures the search may
inject), ``mutants`` (names from :data:`khomc.kho.k6_19.kexec_handover.MUTANTS`), and per scenario ``luo``
(liveupdate_reboot finalizes), ``finalize`` (the selftest writes debugfs finalize).
"""

from __future__ import annotations

import functools

from khomc.drivers.luo_operator import operator
from khomc.runtime import Scenario
from khomc.scenarios.params import declare
from khomc.promises import luo as props
from khomc.scenarios import luo as luo
from khomc.kho.k6_19 import ERA
from khomc.promises.v5 import REVIVED

PREVIOUS = "k6.18"
CHANGES = (
    "6.19 moves KHO to kernel/liveupdate/ and drops the notifiers (70f9133096c8): users link "
    "their FDTs with kho_add_subtree(name, fdt) under kho_out.lock at any time, and the root FDT "
    "is a preserved page edited in place (8e068a286aef).  Preserve and unpreserve take no KHO "
    "lock and no longer check finalized (de51999e687c); abort is gone and kho_finalize may be "
    "re-run, kho_update_memory_map freeing the previously published chunk list (9a4301f715c8); "
    "kexec_file_load may precede finalize (d7255959b69a) and kernel_kexec finalizes through "
    "liveupdate_reboot (db8bed8082dc); the next kernel disables revival when the map is 0.  "
    "Source: torvalds/linux:kernel/liveupdate/kexec_handover.c@dd03dd60e8cd, "
    "kernel/liveupdate/luo_core.c@cab056f2aae7.")


def refinalize_race(pages: int = 8, fail_allocs: int = 0, mutants: str = "", kernel=None):
    """A debugfs finalize (re-)runs while the operator loads and reboots; the reboot's own
    finalize (liveupdate_reboot) and the debugfs one serialize on kho_out.lock, machine_kexec
    takes no KHO lock."""
    m, kho = luo.machine(kernel or ERA.namespace(), "refinalize-race", refinalize_race.__doc__, pages, fail_allocs,
                         mutants, 2)
    m.task("debugfs", operator, kho, (("finalize", 1),))
    m.task("operator", operator, kho, (("load", 0), ("kexec", 0)))
    props.register(m, kho, (), False, luo._guards(kho, REVIVED))
    return m


def luo_session_race(pages: int = 10, fail_allocs: int = 0, mutants: str = "", race: bool = True,
                     close: bool = True, nr_folios: int = 1, kernel=None):
    """The shared luo-session-race (:func:`khomc.scenarios.luo.luo_session_race`) on 6.19.

    Verdicts at the defaults (race=True): luo-preserved-restorable and
    luo-nothing-unpreserved-handed-over are VIOLATED - a kernel race (design flaw of
    luo_session.c as written for 6.19): PRESERVE_FD and the session fd's release take
    only session->mutex, serialize holds sh->rwsem and each session's mutex only while
    freezing it, and kernel_kexec runs machine_kexec after liveupdate_reboot returns with no
    LUO lock held.  (1) The agent creates its session after serialize released the rwsem (or
    PRESERVE_FDs after its session was frozen): PRESERVE_FD returns 0 but the file is not in
    the handed-over array - restorable is violated.  (2) The agent closes the session while or
    after serialize walks it: release unpreserves the files under session->mutex and only then
    removes the session under sh->rwsem, so serialize can record "s0" between the two (an empty
    session), or freeze it first and have release unpreserve the memfd's folios, its record and
    the files array before machine_kexec; release returns 0, yet "s0" is handed over -
    nothing-unpreserved is violated.  The fix is "liveupdate: block session mutations during
    reboot" (Pasha Tatashin, v6 posted 2026-05-27, Fixes: 0153094d03df; kexec list
    2026-May/036473.html): a global luo_session_serialize_rwsem that serialize takes for write
    and keeps on success, create/retrieve/release/ioctl for read.  It was posted after every era
    of this project (mainline-2026-04 included), so no era has it; it is noted, not a Delta,
    and the mutant ``serialize-rwsem`` applies it: every LUO promise then holds (deadlock-free
    fails only because a task sleeping on the rwsem after serialize is still asleep when
    machine_kexec replaces the kernel).  luo-restore-returns-preserved and
    luo-finish-reclaims-unretrieved (the next kernel's RETRIEVE_SESSION / RETRIEVE_FD / FINISH,
    model/kho/k6_19/luo_next.py) fail with (1): the preservation is in no session.
    With race=False both hold.  At fail_allocs=1 see properties/kho_eras/test_luo_session.py
    (a failed kho_init deadlocks the waiters; a failed luo_fdt_setup disables LUO, so the
    reboot never finalizes KHO - 6.19's design).
    """
    return luo.luo_session_race(kernel or ERA.namespace(), pages, fail_allocs, mutants, race,
                                close, nr_folios, doc=luo_session_race.__doc__)


def memfd_luo(pages: int = 8, fail_allocs: int = 0, mutants: str = "", chunk: int = 511,
              kernel=None):
    """memfd through LUO on 6.19 (:func:`khomc.scenarios.luo.memfd_luo`).  No VIOLATED
    verdict."""
    return luo.memfd_luo(kernel or ERA.namespace(), pages, fail_allocs, mutants, chunk)


def _on(fn):
    @functools.wraps(fn)
    def build(kernel=None, **params):
        return fn(kernel or ERA.namespace(), **params)
    return build


SCENARIOS = [
    Scenario("test-kho", _on(luo.test_kho_scenario),
             {"pages": 16, "fail_allocs": 0, "mutants": "", "luo": True, "finalize": True},
             "lib/test_kho.c at boot; debugfs finalize, load, kexec; restore in the next kernel"),
    Scenario("test-kho-race", _on(luo.test_kho_race),
             {"pages": 16, "fail_allocs": 0, "mutants": ""},
             "lib/test_kho.c's init || load, kexec (the reboot finalizes)"),
    Scenario("fdbox-race", _on(luo.fdbox_race),
             {"pages": 8, "fail_allocs": 0, "fdt_max": luo.FDT_MAX, "mutants": ""},
             "FDBox x2 save/drop an fd || load, finalize, kexec"),
    Scenario("fdt-max-grow", _on(luo.fdt_max_grow),
             {"pages": 8, "fail_allocs": 0, "fdt_max": 4096, "mutants": ""},
             "load, then a user links a 5 KiB FDT, then kexec"),
    Scenario("memfd-luo", memfd_luo,
             {"pages": 8, "fail_allocs": 0, "mutants": "", "chunk": 511},
             "userspace PRESERVE_FDs a 2-page memfd in a LUO session; load, kexec (liveupdate_reboot "
             "freezes it, finalizes); memfd_luo_retrieve checks it"),
    Scenario("luo-session-race", luo_session_race,
             {"pages": 10, "fail_allocs": 0, "mutants": "", "race": True, "close": True,
              "nr_folios": 1},
             "userspace: create session, PRESERVE_FD a memfd, maybe close || load, kexec "
             "(liveupdate_reboot serializes the sessions)"),
    Scenario("refinalize-race", refinalize_race, {"pages": 8, "fail_allocs": 0, "mutants": ""},
             "debugfs finalize || load, kexec (liveupdate_reboot finalizes again)"),
    Scenario("subtree-full", _on(luo.subtree_full),
             {"pages": 8, "fail_allocs": 0, "mutants": ""},
             "a user fills the root FDT with subtrees until kho_add_subtree fails || load, kexec"),
    Scenario("preserve-pages-race", _on(luo.preserve_pages_race),
             {"pages": 8, "fail_allocs": 0, "mutants": ""},
             "kho_preserve_pages of 3 pages (then maybe unpreserve) || load, kexec"),
    Scenario("three-preservers", _on(luo.three_preservers),
             {"pages": 16, "fail_allocs": 0, "mutants": "", "clients": 3},
             "3 interchangeable clients preserve an order-0/1 folio each; load, kexec"),
    Scenario("vmalloc-huge-unwind", _on(luo.vmalloc_huge_unwind),
             {"pages": 16, "fail_allocs": 1, "mutants": "", "chunk": 1},
             "a huge-vmap vmalloc area whose preserve fails at its second chunk; load, kexec"),
    Scenario("preserve-pages-pfn0", _on(luo.preserve_pages_pfn0),
             {"pages": 10, "fail_allocs": 0, "mutants": "", "npages": luo.RANGE_NR},
             luo.PFN0_DOC, default=False),
]
SCENARIOS = declare(SCENARIOS)
