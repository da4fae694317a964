"""Changyuan Lyu's anchor pages (v5-anchor): scenarios on the era :data:`khomc.kho.v5_anchor.ERA`.

The kernel side - the Delta (20250323190204.742672-1-changyuanl@google.com) and the functions
it replaces - is in :mod:`khomc.kho.v5_anchor`; this module only composes drivers and the
operator over it and registers the promises of :mod:`khomc.promises.proposals`.

``memory-safety`` requires every page the anchors list to be allocated at kexec: a blob page
freed before machine_kexec would be read stale by the next kernel.  In v5's flow only
kho_unfreeze frees the blob, and debugfs takes the kexec lock that kernel_kexec holds while it
fills the anchor, so that cannot happen in these scenarios.

Scenarios ``fdbox-race`` and ``fdt-max-grow``: same names, drivers and operator steps as v5's.
Every builder takes ``kernel`` (a linked prefix of the ledger, default the whole era) so
``khomc bisect`` can build it on v5 with or without the anchor Delta.
"""

from __future__ import annotations

from khomc.drivers.fdbox import fdbox
from khomc.drivers.luo_operator import operator
from khomc.kernel.alloc import PAGE_SIZE, Heap
from khomc.runtime import Model, Scenario
from khomc.scenarios.params import declare
from khomc.promises import proposals as props
from khomc.kho.v5.kexec_handover import ROOT, initial_tree, static
from khomc.kho.v5_anchor import ERA
from khomc.kho.v5_anchor.kexec_handover import SLOTS, KhoAnchor
from khomc.promises.v5 import ADD_REFUSED, FINALIZE_OK, KEXEC_REACHED, REVIVED, _fdboxes_restore
from khomc.scenarios.v5 import BIG, FDT_MAX, _mutants

PREVIOUS = "v5"
CHANGES = (
    "Changyuan Lyu's anchor pages (20250323190204.742672-1-changyuanl@google.com, after "
    "Jason Gunthorpe's 20250321134854.GB252045@nvidia.com and Pasha Tatashin's anchor-page "
    "remark in CA+CK2bBBX+HgD0HLj-AyTScM59F2wXq11BEPgejPMHoEwqj+_Q@mail.gmail.com) on top of "
    "v5: kexec_file_load reserves one anchor page instead of an fdt_max-sized ksegment; at "
    "kexec the anchor is filled with the physical addresses of the pages holding the FDT "
    "blob, further anchors linked when one is full; the next kernel reserves those pages and "
    "reassembles the FDT.  Nothing is written into a segment sized before fdt_max could "
    "change, which closes v5's fdt-max-grow overflow; the blob pages become KHO metadata the "
    "next kernel must reserve.")

# -- scenarios --------------------------------------------------------------------------------

def _machine(name: str, doc: str, pages: int, fail_allocs: int, fdt_max: int, mutants: str,
             slots: int, boxes: tuple = (), nodes: tuple = (), boot_props: tuple = (),
             ntasks: int = 3, kernel=None):
    m = Model("v5-anchor", name, doc=doc)
    heap = Heap(m, pages, ntasks, fail_allocs)
    attached = tuple((ROOT, n, n) for n in boxes + nodes)
    tree = initial_tree(nodes=boxes + nodes, attached=attached, props=boot_props)
    kho = KhoAnchor(m, heap, fdt_max, tree, _mutants(mutants), slots,
                    kernel or ERA.namespace())
    return m, kho


def _register(m, kho, boxes: tuple, guards: tuple) -> None:
    props.register(m, kho, guards, blob_of=kho.kernel.root_blob, boot=kho.kernel.boot,
                   restores=lambda nk, pages: _fdboxes_restore(nk, pages, boxes))


def fdbox_race(pages: int = 8, fail_allocs: int = 0, fdt_max: int = FDT_MAX, slots: int = SLOTS,
               mutants: str = "", kernel=None) -> Model:
    """v5's fdbox-race: two FDBoxes save an fd each, the second drops its fd again, while the
    operator loads the next kernel, finalizes and kexecs (the anchor is filled at kexec)."""
    boxes = ("fdbox0", "fdbox1")
    m, kho = _machine("fdbox-race", fdbox_race.__doc__, pages, fail_allocs, fdt_max, mutants,
                      slots, boxes=boxes, kernel=kernel)
    m.task("fdbox0", fdbox, kho, "fdbox0", 1, False)
    m.task("fdbox1", fdbox, kho, "fdbox1", 1, True)
    m.task("operator", operator, kho, (("load", 0), ("finalize", 1), ("kexec", 0)))
    _register(m, kho, boxes, (KEXEC_REACHED, FINALIZE_OK, ADD_REFUSED, REVIVED))
    return m


def fdt_max_grow(pages: int = 8, fail_allocs: int = 0, fdt_max: int = PAGE_SIZE,
                 slots: int = 1, mutants: str = "", kernel=None) -> Model:
    """v5's fdt-max-grow: kexec_file_load (one anchor page), then the operator raises fdt_max
    so that the 5 KiB tree fits the finalize buffer, then kexec auto-finalizes and lists the
    blob's two pages.  ``slots`` = 1 (entries per anchor) makes the two pages need two linked
    anchors, so the linking path is checked too."""
    m, kho = _machine("fdt-max-grow", fdt_max_grow.__doc__, pages, fail_allocs, fdt_max,
                      mutants, slots, nodes=("big",),
                      boot_props=(("big", "blob", static(b"k" * BIG)),), ntasks=1,
                      kernel=kernel)
    m.task("operator", operator, kho, (("load", 0),
                                       ("module", (kho.kernel.kho_out_fdt_max_set, (4 * PAGE_SIZE,))),
                                       ("kexec", 0)))
    _register(m, kho, (), (KEXEC_REACHED, FINALIZE_OK, REVIVED))
    return m


SCENARIOS = [
    Scenario("fdbox-race", fdbox_race,
             {"pages": 8, "fail_allocs": 0, "fdt_max": FDT_MAX, "slots": SLOTS, "mutants": ""},
             "FDBox x2 save/drop an fd || load, finalize, kexec (anchor filled at kexec)"),
    Scenario("fdt-max-grow", fdt_max_grow,
             {"pages": 8, "fail_allocs": 0, "fdt_max": PAGE_SIZE, "slots": 1, "mutants": ""},
             "load (one anchor page), raise fdt_max, kexec a 5 KiB FDT over two linked anchors"),
]
SCENARIOS = declare(SCENARIOS)


# -- three interchangeable clients (issue 12 item 6; symmetry: khomc.engines.symmetry) ----------

def three_preservers(pages: int = 8, clients: int = 3, fdt_max: int = FDT_MAX,
                     slots: int = SLOTS, mutants: str = "", kernel=None) -> Model:
    """v5's three-preservers on the anchor design: *clients* interchangeable clients each
    preserve one folio of a chosen order (0 or 1) concurrently with each other, then the
    operator loads, finalizes and kexecs (the anchor is filled at kexec).  Memory: *pages*
    pages per task, claimed in first-allocation order (``Heap(claim=True)``), so the clients
    are declared symmetric.  The default review checks it up to that symmetry (102,798 orbits,
    7 s, against 616,557 plain states, 18 s; ``terminates`` HOLDS there too: the graph of
    orbits has no cycle).  Pins: properties/kho_eras/test_three_clients.py."""
    from khomc.scenarios.v5 import preservers_then_operator
    m = Model("v5-anchor", "three-preservers", doc=three_preservers.__doc__)
    heap = Heap(m, pages, clients + 1, 0, claim=True)
    kho = KhoAnchor(m, heap, fdt_max, initial_tree(), _mutants(mutants), slots,
                    kernel or ERA.namespace())
    preservers_then_operator(m, kho, clients, operator)
    _register(m, kho, (), (KEXEC_REACHED, FINALIZE_OK, REVIVED))
    return m


SCENARIOS = SCENARIOS + declare([Scenario(
    "three-preservers", three_preservers,
    {"pages": 8, "clients": 3, "fdt_max": FDT_MAX, "slots": SLOTS, "mutants": ""},
    "3 interchangeable clients preserve an order-0/1 folio each, then load, finalize, kexec "
    "(the review checks it up to symmetry)", symmetry=True)])
