"""KHO v5 (seed design, 20250320015551.2157511-1-changyuanl@google.com): scenarios and bounds.

Each scenario composes drivers and an operator over one :class:`khomc.kho.v5.kexec_handover.KhoV5` machine and
registers KHO's promises (:mod:`khomc.promises.v5`) with the vacuity guards that make sense
for it.  Common parameters: ``pages`` (physical pages), ``fail_allocs`` (allocation failures the
search may inject), ``fdt_max`` (kho_out.fdt_max at boot) and ``mutants`` (comma-separated names
from :data:`khomc.kho.v5.kexec_handover.MUTANTS`; empty for the design as posted).
"""

from __future__ import annotations

from khomc.scenarios.counters import count_up as _count_up, wait_for as _wait_for
from khomc.drivers.fdbox import fdbox
from khomc.drivers.finalize_notifier import NODE as NOTIF, finalize_notifier
from khomc.drivers.freed_buffer import freed_buffer
from khomc.drivers.operator import operator
from khomc.kernel.alloc import PAGE_SIZE, Heap
from khomc.kernel.errno import EINVAL
from khomc.runtime import Model, Scenario
from khomc.scenarios.params import declare
from khomc.promises import v5 as props
from khomc.kho.v5 import ERA
from khomc.kho.v5.kexec_handover import ROOT, KhoV5, initial_tree, static
from khomc.drivers.common import _alloc_filled
from khomc.kernel.alloc import kvmalloc
from khomc.runtime.effects import atomic

PREVIOUS = "v4"
CHANGES = (
    "v5 (Changyuan Lyu, 20250320015551.2157511-1-changyuanl@google.com) replaces v4's "
    "one-shot serialization, in which every user had to write its nodes into the one shared "
    "dt_max FDT from inside the KEXEC_KHO_DUMP notifier, with a hashtable state tree that "
    "users fill at any time and concurrently (kho_add_node/kho_add_prop under tree_lock) and "
    "an xarray-of-bitmaps tracker (kho_preserve_folio/phys) in place of v4's mem properties; "
    "\"active\" becomes debugfs \"finalize\", whose notifier only announces the last chance "
    "to save data before kho_finalize freezes and converts the tree (Changyuan's reply, "
    "20250323190204.742672-1-changyuanl@google.com, answering Jason Gunthorpe's v4 review "
    "20250210202220.GC3765641@nvidia.com that the notifier-wrapped FDT \"requires that the "
    "whole thing be wrapped in a notifier callback\").  kexec_file_load may now come before "
    "finalization: it reserves an empty fdt_max ksegment and kernel_kexec copies the final "
    "FDT in (auto-finalizing), and fdt_max is set under the kexec lock and refused once frozen. "
    "The v5 review still objected to fdt_max (\"still can't automatically size the fdt\", "
    "20250321133447.GA251739@nvidia.com) and to the locked preserve path "
    "(20250321134629.GA252045@nvidia.com).")

FDT_MAX = 1024


def _mutants(text: str) -> frozenset:
    return frozenset(t.strip() for t in text.split(",") if t.strip())


def _machine(name: str, doc: str, pages: int, fail_allocs: int, fdt_max: int, mutants: str,
             boxes: tuple = (), nodes: tuple = (), boot_props: tuple = (),
             fail_sites: frozenset | None = None, detached: tuple = (), ntasks: int = 3,
             kernel=None, reuse: int = 0):
    """*boxes* and *nodes* are linked under the root at boot; *detached* nodes are only
    kho_init_node'd (their driver links them later).  *pages* is each task's own range of
    physical pages (see :mod:`khomc.kernel.alloc`); *ntasks* how many tasks allocate."""
    m = Model("v5", name, doc=doc)
    heap = Heap(m, pages, ntasks, fail_allocs, fail_sites, reuse)
    attached = tuple((ROOT, n, n) for n in boxes + nodes)
    tree = initial_tree(nodes=boxes + nodes + detached, attached=attached, props=boot_props)
    kho = KhoV5(m, heap, fdt_max, tree, _mutants(mutants), kernel or ERA.namespace())
    return m, kho


def _operator_saw(m: Model, step: tuple):
    def check(s) -> bool:
        return s.done("operator") and step in s.result("operator")
    return check


# -- the scenarios --------------------------------------------------------------------------------

def fdbox_race(pages: int = 8, fail_allocs: int = 0, fdt_max: int = FDT_MAX,
               mutants: str = "", kernel=None) -> Model:
    """Two FDBoxes save an fd each, the second drops its fd again, while the operator loads
    the next kernel, finalizes and kexecs."""
    boxes = ("fdbox0", "fdbox1")
    m, kho = _machine("fdbox-race", fdbox_race.__doc__, pages, fail_allocs, fdt_max, mutants,
                      boxes=boxes, kernel=kernel)
    m.task("fdbox0", fdbox, kho, "fdbox0", 1, False)
    m.task("fdbox1", fdbox, kho, "fdbox1", 1, True)
    m.task("operator", operator, kho, (("load", 0), ("finalize", 1), ("kexec", 0)))
    props.register(m, kho, boxes, (props.KEXEC_REACHED, props.FINALIZE_OK, props.ADD_REFUSED,
                                   props.REVIVED))
    return m


def fdbox_many(boxes: int = 6, fds: int = 4, pages: int = 12, fail_allocs: int = 0,
               fdt_max: int = 4096, mutants: str = "", kernel=None) -> Model:
    """*boxes* FDBoxes save *fds* fds each (every odd box then drops its fd 0) while the
    operator loads, finalizes and kexecs: too large to exhaust at the defaults (six boxes of
    four fds), the stateful and PCT engines' scope."""
    names = tuple(f"fdbox{i}" for i in range(boxes))
    m, kho = _machine("fdbox-many", fdbox_many.__doc__, pages, fail_allocs, fdt_max, mutants,
                      boxes=names, ntasks=boxes + 1, kernel=kernel)
    for i, box in enumerate(names):
        m.task(box, fdbox, kho, box, fds, i % 2 == 1)
    m.task("operator", operator, kho, (("load", 0), ("finalize", 1), ("kexec", 0)))
    props.register(m, kho, names, (props.KEXEC_REACHED, props.FINALIZE_OK, props.REVIVED))
    return m


def notifier_refinalize(pages: int = 12, fail_allocs: int = 0, fdt_max: int = FDT_MAX,
                        fdboxes: int = 1, mutants: str = "", kernel=None) -> Model:
    """A FINALIZE-notifier driver and an FDBox; the operator finalizes, unfreezes, finalizes
    again, loads and kexecs."""
    boxes = tuple(f"fdbox{i}" for i in range(fdboxes))
    m, kho = _machine("notifier-refinalize", notifier_refinalize.__doc__, pages, fail_allocs,
                      fdt_max, mutants, boxes=boxes, detached=(NOTIF,), kernel=kernel)
    state = m.var("notif.state", None)
    m.task("notif", finalize_notifier, kho, state, "ok")
    for box in boxes:
        m.task(box, fdbox, kho, box, 1, False)
    m.task("operator", operator, kho, (("finalize", 1), ("finalize", 0), ("finalize", 1),
                                       ("load", 0), ("kexec", 0)))
    props.register(m, kho, boxes, (props.KEXEC_REACHED, props.FINALIZE_OK, props.REVIVED))
    return m


def stale_debugfs_dentry(pages: int = 12, fail_allocs: int = 1, fdt_max: int = FDT_MAX,
                         fdboxes: int = 0, mutants: str = "", reuse: int = 0,
                         kernel=None) -> Model:
    """notifier-refinalize with one allocation failure the search may inject anywhere: the
    operator finalizes (debugfs creates out/fdt), unfreezes (removes it; kho_out.fdt_file
    still points at it), finalizes again, loads and kexecs.  When the failure makes the
    FINALIZE callback fail, kexec's auto-finalize fails too and kho_copy_fdt's
    kho_out_update_debugfs_fdt removes the stale dentry a second time.  With ``-D reuse=1`` the
    allocator may serve one allocation from a freed block: the freed dentry can become the
    notifier's data buffer, which the stale ``kho_out.fdt_file`` then names."""
    boxes = tuple(f"fdbox{i}" for i in range(fdboxes))
    m, kho = _machine("stale-debugfs-dentry", stale_debugfs_dentry.__doc__, pages, fail_allocs,
                      fdt_max, mutants, boxes=boxes, detached=(NOTIF,), kernel=kernel,
                      reuse=reuse)
    state = m.var("notif.state", None)
    m.task("notif", finalize_notifier, kho, state, "ok")
    for box in boxes:
        m.task(box, fdbox, kho, box, 1, False)
    m.task("operator", operator, kho, (("finalize", 1), ("finalize", 0), ("finalize", 1),
                                       ("load", 0), ("kexec", 0)))
    props.register(m, kho, boxes, (props.KEXEC_REACHED, props.FINALIZE_OK, props.REVIVED))
    return m


def autofinalize(pages: int = 8, fail_allocs: int = 0, fdt_max: int = FDT_MAX,
                 mutants: str = "", kernel=None) -> Model:
    """kexec_file_load before any finalize, then kexec: kho_copy_fdt finalizes on its own,
    while an FDBox saves and drops an fd."""
    boxes = ("fdbox0",)
    m, kho = _machine("autofinalize", autofinalize.__doc__, pages, fail_allocs, fdt_max,
                      mutants, boxes=boxes, kernel=kernel)
    m.task("fdbox0", fdbox, kho, "fdbox0", 1, True)
    m.task("operator", operator, kho, (("load", 0), ("kexec", 0)))
    props.register(m, kho, boxes, (props.KEXEC_REACHED, props.FINALIZE_OK, props.ADD_REFUSED,
                                   props.REVIVED))
    return m


def fdt_max_small(pages: int = 8, fail_allocs: int = 0, fdt_max: int = 128,
                  mutants: str = "", kernel=None) -> Model:
    """fdt_max is too small for the tree: finalize fails with -EINVAL (unfreezing), and so
    does the auto-finalize of kexec, which then does not happen."""
    boxes = ("fdbox0",)
    m, kho = _machine("fdt-max-small", fdt_max_small.__doc__, pages, fail_allocs, fdt_max,
                      mutants, boxes=boxes, kernel=kernel)
    m.task("fdbox0", fdbox, kho, "fdbox0", 1, False)
    m.task("operator", operator, kho, (("finalize", 1), ("load", 0), ("kexec", 0)))
    props.register(m, kho, boxes, ())
    m.sometimes("finalize-overflow-refused", _operator_saw(m, ("finalize", -EINVAL)),
                doc="Vacuity guard: some run has debugfs finalize return -EINVAL because the "
                    "tree does not fit in fdt_max.")
    m.sometimes("kexec-refused", _operator_saw(m, ("kexec", -EINVAL)),
                doc="Vacuity guard: some run has kexec refuse because auto-finalize failed.")
    return m


BIG = 5000


def fdt_max_grow(pages: int = 8, fail_allocs: int = 0, fdt_max: int = PAGE_SIZE,
                 mutants: str = "", kernel=None) -> Model:
    """kexec_file_load reserves an fdt_max-sized ksegment; the operator then raises fdt_max
    (allowed: KHO is not frozen) so that a big tree fits, and kexecs."""
    m, kho = _machine("fdt-max-grow", fdt_max_grow.__doc__, pages, fail_allocs, fdt_max,
                      mutants, nodes=("big",), boot_props=(("big", "blob", static(b"k" * BIG)),), kernel=kernel)
    m.task("operator", operator, kho, (("load", 0), ("fdt_max", 4 * PAGE_SIZE), ("kexec", 0)))
    props.register(m, kho, (), (props.KEXEC_REACHED, props.FINALIZE_OK))
    return m


FINALIZE_SITES = frozenset({"kho_finalize", "new_chunk"})


def alloc_fail_finalize(pages: int = 8, fail_allocs: int = 1, fdt_max: int = FDT_MAX,
                        mutants: str = "", kernel=None) -> Model:
    """Allocations on the finalize path (the fdt_max buffer, the chunk pages) may fail; the
    operator retries finalize once, then loads and kexecs, while an FDBox saves an fd."""
    boxes = ("fdbox0",)
    m, kho = _machine("alloc-fail-finalize", alloc_fail_finalize.__doc__, pages, fail_allocs,
                      fdt_max, mutants, boxes=boxes, fail_sites=FINALIZE_SITES, kernel=kernel)
    m.task("fdbox0", fdbox, kho, "fdbox0", 1, False)
    m.task("operator", operator, kho, (("finalize", 1), ("finalize", 1), ("load", 0),
                                       ("kexec", 0)))
    props.register(m, kho, boxes, (props.KEXEC_REACHED, props.FINALIZE_OK, props.REVIVED))
    m.sometimes("finalize-enomem", _operator_saw(m, ("finalize", -12)),
                doc="Vacuity guard: some run has finalize fail with -ENOMEM.")
    return m


def callback_reenters(pages: int = 8, fail_allocs: int = 0, fdt_max: int = FDT_MAX,
                      mutants: str = "", kernel=None) -> Model:
    """A FINALIZE callback calls back into KHO: it unregisters its own notifier block."""
    m, kho = _machine("callback-reenters", callback_reenters.__doc__, pages, fail_allocs,
                      fdt_max, mutants, detached=(NOTIF,), kernel=kernel)
    state = m.var("notif.state", None)
    m.task("notif", finalize_notifier, kho, state, "unregister")
    m.task("operator", operator, kho, (("finalize", 1),))
    props.register(m, kho, (), ())
    return m


def notifier_adds(pages: int = 8, fail_allocs: int = 0, fdt_max: int = FDT_MAX,
                  mutants: str = "", kernel=None) -> Model:
    """A FINALIZE callback calls back into KHO the legal way: kho_add_node under the root
    (down_write of tree_lock) from inside the chain, then the operator kexecs."""
    m, kho = _machine("notifier-adds", notifier_adds.__doc__, pages, fail_allocs, fdt_max,
                      mutants, detached=(NOTIF,), kernel=kernel)
    state = m.var("notif.state", None)
    m.task("notif", finalize_notifier, kho, state, "ok")
    m.task("operator", operator, kho, (("load", 0), ("finalize", 1), ("kexec", 0)))
    props.register(m, kho, (), (props.KEXEC_REACHED, props.FINALIZE_OK, props.REVIVED))
    return m


def freed_buffer_scenario(pages: int = 8, fail_allocs: int = 0, fdt_max: int = FDT_MAX,
                          mutants: str = "", kernel=None) -> Model:
    """A driver frees a buffer whose address is still a property in the tree, while the
    operator finalizes and kexecs."""
    m, kho = _machine("freed-buffer", freed_buffer_scenario.__doc__, pages, fail_allocs,
                      fdt_max, mutants, nodes=("freed",), kernel=kernel)
    m.task("freed", freed_buffer, kho, "freed")
    m.task("operator", operator, kho, (("load", 0), ("finalize", 1), ("kexec", 0)))
    props.register(m, kho, (), (props.KEXEC_REACHED, props.FINALIZE_OK))
    return m


async def phys_preserver(kho, npages: int) -> int:
    """A reserve_mem-like user: kvmalloc *npages* pages and kho_preserve_phys the range."""
    heap = kho.heap
    buf = await atomic(_alloc_filled)(heap, kvmalloc(heap, npages * PAGE_SIZE, "reserve"),
                                      b"reserved", "reserve")
    if not buf:
        return -12
    return await kho.kernel.kho_preserve_phys(kho, buf, npages * PAGE_SIZE)


def preserve_phys_unaligned(pages: int = 8, fail_allocs: int = 0, fdt_max: int = FDT_MAX,
                            npages: int = 3, mutants: str = "", kernel=None) -> Model:
    """kho_preserve_phys of a 3-page range starting at PFN 1, then finalize and kexec."""
    m, kho = _machine("preserve-phys-unaligned", preserve_phys_unaligned.__doc__, pages,
                      fail_allocs, fdt_max, mutants, kernel=kernel)
    m.task("reserve", phys_preserver, kho, npages)
    m.task("operator", operator, kho, (("load", 0), ("finalize", 1), ("kexec", 0)))
    props.register(m, kho, (), (props.KEXEC_REACHED, props.FINALIZE_OK, props.REVIVED))
    return m


def scratch_too_small(pages: int = 8, fail_allocs: int = 0, fdt_max: int = FDT_MAX,
                      mutants: str = "", kernel=None) -> Model:
    """The operator raises fdt_max to 2 MiB (allowed: not frozen), loads and kexecs while an
    FDBox saves an fd: the fdt_max segment does not fit the 1 MiB scratch area, so
    kho_locate_mem_hole fails the load with -EADDRNOTAVAIL and kexec finds no image."""
    boxes = ("fdbox0",)
    m, kho = _machine("scratch-too-small", scratch_too_small.__doc__, pages, fail_allocs,
                      fdt_max, mutants, boxes=boxes, kernel=kernel)
    m.task("fdbox0", fdbox, kho, "fdbox0", 1, False)
    m.task("operator", operator, kho, (("fdt_max", 2 << 20), ("load", 0), ("kexec", 0)))
    props.register(m, kho, boxes, ())
    m.sometimes("load-refused", _operator_saw(m, ("load", -99)),
                doc="Vacuity guard: some run has kexec_file_load fail with -EADDRNOTAVAIL.")
    m.sometimes("kexec-without-image", _operator_saw(m, ("kexec", -EINVAL)),
                doc="Vacuity guard: some run has kexec refuse for want of an image.")
    return m


UNWIND_SITES = frozenset({"xa_load_or_alloc(orders)", "xa_load_or_alloc(phys_bits)"})


def _preserver_failed_but_reserved(kho):
    def check(s) -> bool:
        h = s[kho.handover]
        if h is None or not s.done("reserve") or s.result("reserve") >= 0:
            return True
        nk = kho.kernel.boot(h)
        return not (nk.reserved - nk.metadata)
    return check


def preserve_phys_unwind(pages: int = 8, fail_allocs: int = 1, fdt_max: int = FDT_MAX,
                         npages: int = 3, mutants: str = "", kernel=None) -> Model:
    """kho_preserve_phys of 3 pages at PFN 1 while the operator loads, finalizes, unfreezes,
    finalizes again and kexecs; one allocation of the tracker (the orders entry or a bitmap)
    may fail, so the unwind loop runs with the order of the failed step."""
    m, kho = _machine("preserve-phys-unwind", preserve_phys_unwind.__doc__, pages, fail_allocs,
                      fdt_max, mutants, fail_sites=UNWIND_SITES, kernel=kernel)
    m.task("reserve", phys_preserver, kho, npages)
    m.task("operator", operator, kho, (("load", 0), ("finalize", 1), ("finalize", 0),
                                       ("finalize", 1), ("kexec", 0)))
    props.register(m, kho, (), (props.KEXEC_REACHED, props.FINALIZE_OK, props.REVIVED))
    m.always("failed-preserve-undone", _preserver_failed_but_reserved(kho),
             doc="A kho_preserve_phys that returned an error leaves nothing preserved: when the "
                 "only client's call failed, the next kernel reserves no memory but KHO's own "
                 "chunk pages (judged from the client's return code).")
    m.sometimes("preserve-phys-enomem",
                lambda s: s.done("reserve") and s.result("reserve") == -12,
                doc="Vacuity guard: some run has kho_preserve_phys fail with -ENOMEM.")
    m.sometimes("preserve-phys-ebusy",
                lambda s: s.done("reserve") and s.result("reserve") == -16,
                doc="Vacuity guard: some run has kho_preserve_phys refused (-EBUSY): KHO froze "
                    "first.")
    return m


SCENARIOS = [
    Scenario("fdbox-race", fdbox_race, {"pages": 8, "fail_allocs": 0, "fdt_max": FDT_MAX,
                                        "mutants": ""},
             "FDBox x2 save/drop an fd || load, finalize, kexec"),
    Scenario("fdbox-many", fdbox_many,
             {"boxes": 6, "fds": 4, "pages": 12, "fail_allocs": 0, "fdt_max": 4096,
              "mutants": ""},
             "FDBox x6 with 4 fds each || load, finalize, kexec (too big to exhaust)",
             default=False),
    Scenario("notifier-refinalize", notifier_refinalize,
             {"pages": 12, "fail_allocs": 0, "fdt_max": FDT_MAX, "fdboxes": 1, "mutants": ""},
             "FINALIZE notifier || FDBox || finalize, unfreeze, finalize, load, kexec"),
    Scenario("stale-debugfs-dentry", stale_debugfs_dentry,
             {"pages": 12, "fail_allocs": 1, "fdt_max": FDT_MAX, "fdboxes": 0, "mutants": "",
              "reuse": 0},
             "notifier-refinalize with one allocation failure: kexec's failed auto-finalize "
             "removes the already removed out/fdt dentry"),
    Scenario("autofinalize", autofinalize,
             {"pages": 8, "fail_allocs": 0, "fdt_max": FDT_MAX, "mutants": ""},
             "FDBox save/drop || load, then kexec auto-finalizes"),
    Scenario("fdt-max-small", fdt_max_small,
             {"pages": 8, "fail_allocs": 0, "fdt_max": 128, "mutants": ""},
             "fdt_max too small: finalize and auto-finalize fail with -EINVAL"),
    Scenario("fdt-max-grow", fdt_max_grow,
             {"pages": 8, "fail_allocs": 0, "fdt_max": PAGE_SIZE, "mutants": ""},
             "load with fdt_max 4 KiB, raise fdt_max, kexec a 5 KiB FDT"),
    Scenario("alloc-fail-finalize", alloc_fail_finalize,
             {"pages": 8, "fail_allocs": 1, "fdt_max": FDT_MAX, "mutants": ""},
             "finalize-path allocation failure || FDBox; finalize retried"),
    Scenario("callback-reenters", callback_reenters,
             {"pages": 8, "fail_allocs": 0, "fdt_max": FDT_MAX, "mutants": ""},
             "a FINALIZE callback unregisters itself (driver misuse)"),
    Scenario("notifier-adds", notifier_adds,
             {"pages": 8, "fail_allocs": 0, "fdt_max": FDT_MAX, "mutants": ""},
             "a FINALIZE callback adds a root node (legal re-entry)"),
    Scenario("freed-buffer", freed_buffer_scenario,
             {"pages": 8, "fail_allocs": 0, "fdt_max": FDT_MAX, "mutants": ""},
             "a driver frees a buffer still recorded in the tree (driver misuse)"),
    Scenario("preserve-phys-unaligned", preserve_phys_unaligned,
             {"pages": 8, "fail_allocs": 0, "fdt_max": FDT_MAX, "npages": 3, "mutants": ""},
             "kho_preserve_phys of 3 pages at PFN 1: v5's ilog2-only split"),
    Scenario("scratch-too-small", scratch_too_small,
             {"pages": 8, "fail_allocs": 0, "fdt_max": FDT_MAX, "mutants": ""},
             "fdt_max raised past the scratch area: kexec_file_load fails (-EADDRNOTAVAIL)"),
    Scenario("preserve-phys-unwind", preserve_phys_unwind,
             {"pages": 8, "fail_allocs": 1, "fdt_max": FDT_MAX, "npages": 3, "mutants": ""},
             "kho_preserve_phys with one tracker allocation failure || load, finalize, "
             "unfreeze, finalize, kexec: the posted unwind loop"),
]
SCENARIOS = declare(SCENARIOS)


# -- three interchangeable clients (issue 12 item 6; symmetry: khomc.engines.symmetry) ----------

async def _preserver(kho, loaded, orders: tuple) -> int:
    """A client's module init: one folio of a chosen order, filled and kho_preserve_folio'd
    (v5's tracker call: no node of the state tree), then ``loaded += 1``."""
    from khomc.drivers.common import folio_alloc_filled
    from khomc.runtime.effects import Update, choose
    order = await choose(orders, "folio order")
    folio = await folio_alloc_filled(kho.heap, order, b"client", "client")
    ret = await kho.kernel.kho_preserve_folio(kho, folio, order) if folio else -12
    await Update(loaded, _count_up, text="module loaded")
    return ret


async def after_modules(kho, loaded, modules: int, steps: tuple, run=operator):
    """The operator (*run*: the era's) once every client's module has loaded."""
    from khomc.runtime.effects import Update
    await Update(loaded, _wait_for, modules, text=f"wait for {modules} modules")
    return await run(kho, steps)


def preservers_then_operator(m, kho, clients: int, run=operator) -> None:
    """The tasks of a three-preservers scenario of v5's line: *clients* interchangeable
    clients (one folio of order 0 or 1 each, declared symmetric), then *run* - the era's
    operator - loads, finalizes and kexecs once every client's module has loaded."""
    loaded = m.var("modules_loaded", 0)
    names = tuple(f"client{i}" for i in range(clients))
    for name in names:
        m.task(name, _preserver, kho, loaded, (0, 1))
    m.task("operator", after_modules, kho, loaded, clients,
           (("load", 0), ("finalize", 1), ("kexec", 0)), run)
    m.symmetric([(name, ()) for name in names])


def three_preservers(pages: int = 8, clients: int = 3, fdt_max: int = FDT_MAX,
                     mutants: str = "", kernel=None) -> Model:
    """*clients* interchangeable clients (same code, same arguments) each preserve one folio of
    a chosen order (0 or 1: folios of two orders) concurrently with each other - the tracker's
    bitmap allocation and insertion under tree_lock held for read raced between them - then
    the operator loads, finalizes and kexecs.  Memory: *pages* pages per task, claimed in the
    order the tasks first allocate (``Heap(claim=True)``), so the clients are declared
    symmetric.  Pins: properties/kho_eras/test_three_clients.py."""
    m = Model("v5", "three-preservers", doc=three_preservers.__doc__)
    heap = Heap(m, pages, clients + 1, 0, claim=True)
    kho = KhoV5(m, heap, fdt_max, initial_tree(), _mutants(mutants), kernel or ERA.namespace())
    preservers_then_operator(m, kho, clients)
    props.register(m, kho, (), (props.KEXEC_REACHED, props.FINALIZE_OK, props.REVIVED))
    return m


SCENARIOS = SCENARIOS + declare([Scenario(
    "three-preservers", three_preservers,
    {"pages": 8, "clients": 3, "fdt_max": FDT_MAX, "mutants": ""},
    "3 interchangeable clients preserve an order-0/1 folio each, then load, finalize, kexec")])
