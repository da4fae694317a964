"""Jason Gunthorpe's recursive FDTs (v5-recursive): scenarios on :data:`khomc.kho.v5_recursive.ERA`.

The kernel side - the Delta (20250321133447.GA251739@nvidia.com) and the functions it replaces,
plus the adapter the LUO-era drivers call - is in :mod:`khomc.kho.v5_recursive`; this module
composes the FDBox of :mod:`khomc.drivers.fdbox_luo` and the operator over it and registers the
promises of :mod:`khomc.promises.proposals`.

Scenarios: ``fdbox-race``, ``fdt-max-grow`` and ``three-preservers`` (same names and meaning as
v5's).  Every builder takes ``kernel`` (a linked prefix of the ledger, default the whole era).
"""

from __future__ import annotations

from khomc.drivers.fdbox_luo import fdbox
from khomc.drivers.fdbox_luo import restore as fdbox_restore
from khomc.drivers.luo_operator import operator
from khomc.kernel.alloc import PAGE_SIZE, Heap
from khomc.runtime import Model, Scenario
from khomc.scenarios.params import declare
from khomc.scenarios import luo as luo_scenarios
from khomc.promises import proposals as props
from khomc.promises.luo import BIG, _big_ok
from khomc.kho.v5.kexec_handover import ROOT, initial_tree
from khomc.kho.v5_recursive import ERA
from khomc.kho.v5_recursive.kexec_handover import KhoRecursive
from khomc.promises.v5 import ADD_REFUSED, FINALIZE_OK, KEXEC_REACHED, REVIVED

PREVIOUS = "v5"
CHANGES = (
    "Jason Gunthorpe's recursive FDTs (20250321133447.GA251739@nvidia.com, "
    "Z+GIRecXeYXiPrYv@nvidia.com, 20250321134854.GB252045@nvidia.com) on top of v5: each user "
    "serializes its own FDT into a folio it preserves and KHO's tree records only that FDT's "
    "address (a u64 property per user); the root built at finalize is one fixed page, so "
    "fdt_max and its debugfs file are gone; kexec_file_load reserves a 16-byte segment that "
    "kernel_kexec fills with the root's address and size instead of memcpy'ing the FDT into an "
    "fdt_max-sized ksegment, which closes v5's fdt-max-grow overflow.  The state tree, rwsem, "
    "freeze, tracker, chunk list and finalize/unfreeze are v5's.")

# -- scenarios --------------------------------------------------------------------------------

def _machine(name: str, doc: str, pages: int, fail_allocs: int, mutants: str, users: tuple,
             ntasks: int, kernel=None):
    m = Model("v5-recursive", name, doc=doc)
    heap = Heap(m, pages, ntasks, fail_allocs)
    tree = initial_tree(nodes=users, attached=tuple((ROOT, u, u) for u in users))
    kho = KhoRecursive(m, heap, tree, luo_scenarios._mutants(mutants),
                       kernel or ERA.namespace())
    return m, kho


def _restores(kho, boxes: tuple, big: bool):
    def restores(nk, pages) -> bool:
        restored: set = set()
        for box in boxes:
            got = fdbox_restore(nk, box, pages, restored, KhoRecursive.retrieve_subtree,
                                KhoRecursive.restore_folio)
            if got is False:
                return False
            for r in got or ():
                if r.order != 0 or r.data != fdbox_contents(box, int(r.key[2:])):
                    return False
        return not big or _big_ok(kho, nk, pages, restored)
    return restores


def fdbox_contents(box: str, k: int) -> bytes:
    from khomc.drivers.fdbox import contents
    return contents(box, k)


def _register(m, kho, boxes: tuple, big: bool, guards: tuple) -> None:
    props.register(m, kho, guards, blob_of=kho.kernel.root_blob, boot=kho.kernel.boot,
                   restores=_restores(kho, boxes, big), user_fdts=kho.kernel.user_fdts)


def fdbox_race(pages: int = 8, fail_allocs: int = 0, fdt_max: int = luo_scenarios.FDT_MAX,
               mutants: str = "", kernel=None) -> Model:
    """Two FDBoxes each write their own FDT into a folio they preserve and link its address,
    save an fd each, the second drops its fd again, while the operator loads the next kernel,
    finalizes and kexecs.  (``fdt_max``: v5's parameter, unused - the root is one page.)"""
    boxes = ("fdbox0", "fdbox1")
    m, kho = _machine("fdbox-race", fdbox_race.__doc__, pages, fail_allocs, mutants, boxes, 3,
                      kernel)
    m.task("fdbox0", fdbox, kho, "fdbox0", 1, False)
    m.task("fdbox1", fdbox, kho, "fdbox1", 1, True)
    m.task("operator", operator, kho, (("load", 0), ("finalize", 1), ("kexec", 0)))
    _register(m, kho, boxes, False, (KEXEC_REACHED, FINALIZE_OK, ADD_REFUSED, REVIVED))
    return m


def fdt_max_grow(pages: int = 8, fail_allocs: int = 0, fdt_max: int = PAGE_SIZE,
                 mutants: str = "", kernel=None) -> Model:
    """v5's fdt-max-grow: kexec_file_load first, then the handed-over data grows past a page
    (a user writes a 5000-byte FDT into an order-1 folio it preserves and links its address),
    then kexec auto-finalizes.  (``fdt_max``: v5's parameter; there is no such knob here.)"""
    m, kho = _machine("fdt-max-grow", fdt_max_grow.__doc__, pages, fail_allocs, mutants,
                      (BIG,), 1, kernel)
    m.task("operator", operator, kho, (("load", 0), ("module", (luo_scenarios.big_user, ())),
                                       ("kexec", 0)))
    _register(m, kho, (), True, (KEXEC_REACHED, FINALIZE_OK, REVIVED))
    return m


SCENARIOS = [
    Scenario("fdbox-race", fdbox_race,
             {"pages": 8, "fail_allocs": 0, "fdt_max": luo_scenarios.FDT_MAX, "mutants": ""},
             "FDBox x2 (own FDTs) save/drop an fd || load, finalize, kexec"),
    Scenario("fdt-max-grow", fdt_max_grow,
             {"pages": 8, "fail_allocs": 0, "fdt_max": PAGE_SIZE, "mutants": ""},
             "load, then a user links a 5 KiB FDT of its own, then kexec"),
]
SCENARIOS = declare(SCENARIOS)


# -- three interchangeable clients (issue 12 item 6; symmetry: khomc.engines.symmetry) ----------

def three_preservers(pages: int = 8, clients: int = 3, fail_allocs: int = 0, mutants: str = "",
                     kernel=None) -> Model:
    """v5's three-preservers on recursive FDTs: *clients* interchangeable clients (same code,
    same arguments) each preserve one folio of a chosen order (0 or 1) with v5's
    kho_preserve_folio, which the recursive design keeps (tree_lock for read, the tracker's
    xarray of bitmaps, raced between the clients), then the operator loads (the 16-byte
    address segment), finalizes (the one-page root) and kexecs (the root's address written
    on the image).  The clients link no FDT of their own: what is raced is the tracker, the
    part of v5 this era does not change; the root carries only KHO's memory map.  Memory:
    *pages* pages per task, claimed in first-allocation order (``Heap(claim=True)``), so the
    clients are declared symmetric.  Every property HOLDS: each client preserves before the
    operator starts, the use the API asks for (pins: properties/kho_eras/test_three_clients.py).
    The default review checks it up to the clients' symmetry (102,798 orbits, 7 s, against
    616,557 plain states, 18 s; ``terminates`` HOLDS there too: the graph of orbits has no
    cycle)."""
    from khomc.scenarios.v5 import preservers_then_operator
    m = Model("v5-recursive", "three-preservers", doc=three_preservers.__doc__)
    heap = Heap(m, pages, clients + 1, fail_allocs, claim=True)
    kho = KhoRecursive(m, heap, initial_tree(), luo_scenarios._mutants(mutants),
                       kernel or ERA.namespace())
    preservers_then_operator(m, kho, clients, operator)
    _register(m, kho, (), False, (KEXEC_REACHED, FINALIZE_OK, REVIVED))
    return m


SCENARIOS = SCENARIOS + declare([Scenario(
    "three-preservers", three_preservers,
    {"pages": 8, "clients": 3, "fail_allocs": 0, "mutants": ""},
    "3 interchangeable clients preserve an order-0/1 folio each, then load, finalize, kexec "
    "(the review checks it up to symmetry)", symmetry=True)])
