"""Jason Gunthorpe's recursive FDTs, as a variant of KHO v5: users own their FDTs, KHO links them.

The proposal, from the v5 review (../shared/reference/kho-semantics.md §5):

* 20250321133447.GA251739@nvidia.com (on v5 07/16): Jason prefers "recursive FDTs" to v5's
  hashtable state tree and objects to the user-sized ``fdt_max``;
* Z+GIRecXeYXiPrYv@nvidia.com (2025-03-24): each serialization operation writes its own FDT,
  sequentially, inside its own operation; "the top level just aggregates the FDT blobs (which
  are in preserved memory)"; the top level is one preserved page reached through a single
  u64, and no fragment needs the tree to grow;
* 20250321134854.GB252045@nvidia.com (on v5 10/16): instead of copying the FDT into a
  ksegment, preserve the memory holding it and put a 16-byte address/size on the image.

What this module changes in :mod:`khomc.kho.v5.kexec_handover` (everything else - the state tree and its
rwsem, the freeze, the memory tracker and its chunk list, finalize/unfreeze, the debugfs
``finalize`` file, the next kernel's deserializer - is v5's code, imported, not copied):

* Users: a user serializes its data into its own FDT in a folio it preserved itself
  (``kho_preserve_folio``), then records only the folio's address: ``add_subtree(name, phys)``
  is ``kho_add_prop(<name>, "fdt", <u64 phys>)`` on the user's node (linked under the root at
  boot).  The tree holds that value, not a pointer KHO dereferences at conversion.
* The root is small and fixed: ``kho_out.fdt_max`` is pinned to one page (:data:`ROOT_SIZE`)
  and there is no debugfs ``fdt_max`` file; v5's kho_finalize / kho_convert_tree build the root
  into that page, -EINVAL if it overflows.
* kexec_file_load reserves a 16-byte segment; kernel_kexec's kho_copy_fdt auto-finalizes as in
  v5 and then writes the root's address and fdt_totalsize there - nothing is copied, so no
  write depends on a size chosen earlier.
* The next kernel (:func:`boot`) reads the 16 bytes, checks that they name memory, memblock-
  reserves the root page as KHO metadata (as v5 reserves its chunk pages) and hands the root
  blob to v5's kho_populate / kho_mem_deserialize (:func:`khomc.kho.v5.kexec_handover_in.boot_from`); users
  find their FDT's address under their node and restore the folio.

Drivers reach it through the adapter methods of :class:`KhoRecursive` (``preserve_folio``,
``unpreserve_folio``, ``add_subtree``, ``debugfs_finalize``, ``kexec_file_load``,
``kernel_kexec``), the same names the LUO-era drivers call, so the FDBox of
:mod:`khomc.drivers.fdbox_luo` runs on it unchanged.  Unlike 6.19, v5's unpreserve returns
-EBUSY once frozen; that driver keeps such a folio handed over.

Scenarios: ``fdbox-race`` and ``fdt-max-grow`` (same names and meaning as v5's); the promises
of :mod:`khomc.promises.proposals`.
"""

from __future__ import annotations

from khomc.drivers.fdbox_luo import fdbox
from khomc.drivers.fdbox_luo import restore as fdbox_restore
from khomc.drivers.luo_operator import operator
from khomc.kernel.alloc import PAGE_SHIFT, PAGE_SIZE, Heap, heap_read_bytes, read_phys
from khomc.kernel.errno import EBUSY, ENOENT
from khomc.kernel.kexec import Kimage, add_buffer, fill_segment
from khomc.kernel.locking import kexec_trylock, kexec_unlock
from khomc.runtime import Model, Scenario
from khomc.scenarios.params import declare
from khomc.runtime.effects import Op, atomic, load, store
from khomc.kho.k6_19 import kexec_handover as k6_19
from khomc.scenarios import luo as luo_scenarios
from khomc.promises import proposals as props
from khomc.kho.v5 import kexec_handover as v5
from khomc.kho.v5 import kexec_handover_in as v5_boot
from khomc.kho.fdt import find, prop
from khomc.promises.luo import BIG, _big_ok
from khomc.kho.v5.kexec_handover import ROOT, KhoV5, initial_tree, static
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

ROOT_SIZE = PAGE_SIZE
SUB_PROP = "fdt"
ADDR_BYTES = 16                       # u64 address + u64 size on the image


class KhoRecursive(KhoV5):
    """v5's ``kho_out`` with a one-page root and the adapter the cross-era drivers call."""

    era = "v5-recursive"
    sub_prop = SUB_PROP
    has_finalize = True

    def __init__(self, model: Model, heap: Heap, tree: tuple, mutants: frozenset = frozenset()):
        super().__init__(model, heap, ROOT_SIZE, tree, mutants)
        self.ready = model.var("kho_init.done", True)     # kho_init ran before any task

    async def preserve_folio(self, phys: int, order: int) -> int:
        return await v5.kho_preserve_folio(self, phys, order)

    async def unpreserve_folio(self, phys: int, order: int) -> int:
        return await v5.kho_unpreserve_folio(self, phys, order)

    async def add_subtree(self, name: str, fdt: int) -> int:
        return await v5.kho_add_prop(self, name, SUB_PROP, static(fdt.to_bytes(8, "little")))

    async def debugfs_finalize(self, val: int) -> int:
        return await v5.kho_out_finalize_set(self, val)

    async def kexec_file_load(self) -> int:
        return await atomic(_kexec_file_load)(self)

    async def kernel_kexec(self) -> int:
        return await kernel_kexec(self)

    @staticmethod
    def retrieve_subtree(nk, name: str, sub_prop: str = SUB_PROP) -> int:
        """The user's FDT address; -ENOENT also for a node (linked at boot) the user never
        gave an address (6.19's node always has one, so its lookup says -EINVAL there)."""
        if not nk.revived:
            return -ENOENT
        node = find(nk.fdt, (name,))
        if node is None or prop(node, sub_prop) is None:
            return -ENOENT
        return k6_19.retrieve_subtree(nk, name, sub_prop)

    @staticmethod
    def restore_folio(nk, phys: int, restored: set) -> int | None:
        return k6_19.restore_folio(nk, phys, restored)


# -- kexec ------------------------------------------------------------------------------------

async def _kexec_file_load(kho: KhoRecursive) -> int:
    """kexec_file_load with a fixed 16-byte KHO segment: nothing depends on the tree's size."""
    if not await kexec_trylock(kho.kexec_lock):
        return -EBUSY
    image = add_buffer(Kimage(True, ()), "kernel", v5.KERNEL_IMAGE_SIZE, b"\x7fELF")
    image = add_buffer(image, "kho-fdt", ADDR_BYTES)
    image = add_buffer(image, "kho-scratch", 16)
    await store(kho.image, image)
    await kexec_unlock(kho.kexec_lock)
    return 0


def _put_address(values, tid, phys, size):
    image, = values
    return (fill_segment(image, "kho-fdt", phys.to_bytes(8, "little") +
                         size.to_bytes(8, "little")),), None


async def kho_copy_fdt(kho: KhoRecursive, image: Kimage) -> int:
    """Auto-finalize (v5), then put the root's address and fdt_totalsize on the image."""
    if not image.file_mode:
        return 0
    if not await load(kho.fdt):
        err = await v5.kho_finalize(kho)
        if err:
            return err
    fdt = await load(kho.fdt)
    head = await heap_read_bytes(kho.heap, fdt, 8, "kho_copy_fdt(fdt_totalsize)")
    await Op((kho.image,), _put_address, fdt, int.from_bytes(head[4:8], "big"),
             text="image->kho: root address and size")
    return 0


async def kernel_kexec(kho: KhoRecursive) -> int:
    """v5's kernel_kexec with this proposal's way of passing the FDT."""
    return await v5.kernel_kexec(kho, kho_copy_fdt)


# -- the next kernel --------------------------------------------------------------------------

def root_address(h) -> tuple:
    """(phys, size) from the image's 16 bytes, or None when they do not name memory."""
    seg = h.image.segment("kho-fdt")
    data = (seg.data if seg is not None else b"") + bytes(ADDR_BYTES)
    phys = int.from_bytes(data[0:8], "little")
    size = int.from_bytes(data[8:16], "little")
    limit = len(h.pages) << PAGE_SHIFT
    if not phys or phys % PAGE_SIZE or size > ROOT_SIZE or phys + ROOT_SIZE > limit:
        return None
    return phys, size


def root_blob(h) -> bytes:
    addr = root_address(h)
    return b"" if addr is None else read_phys(h.pages, addr[0], addr[1])


def boot(h) -> v5_boot.NextKernel:
    """Read the 16 bytes, reserve the root page, then v5's kho_populate/kho_mem_deserialize."""
    addr = root_address(h)
    if addr is None:
        return v5_boot.refused("disabling KHO revival: the image's KHO address names no page")
    nk = v5_boot.boot_from(read_phys(h.pages, addr[0], addr[1]), h.pages)
    if not nk.revived:
        return nk
    return nk._replace(metadata=nk.metadata | {addr[0] >> PAGE_SHIFT})


def user_fdts(h, nk) -> tuple:
    """The address every user node of the handed-over root points at."""
    if not nk.revived:
        return ()
    out = []
    for child in nk.fdt.children:
        phys = KhoRecursive.retrieve_subtree(nk, child.name)
        if phys >= 0:
            out.append(phys)
    return tuple(out)


# -- scenarios --------------------------------------------------------------------------------

def _machine(name: str, doc: str, pages: int, fail_allocs: int, mutants: str, users: tuple,
             ntasks: int):
    m = Model("v5-recursive", name, doc=doc)
    heap = Heap(m, pages, ntasks, fail_allocs)
    tree = initial_tree(nodes=users, attached=tuple((ROOT, u, u) for u in users))
    kho = KhoRecursive(m, heap, tree, luo_scenarios._mutants(mutants))
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
    props.register(m, kho, guards, blob_of=root_blob, boot=boot,
                   restores=_restores(kho, boxes, big), user_fdts=user_fdts)


def fdbox_race(pages: int = 8, fail_allocs: int = 0, fdt_max: int = luo_scenarios.FDT_MAX,
               mutants: str = "") -> Model:
    """Two FDBoxes each write their own FDT into a folio they preserve and link its address,
    save an fd each, the second drops its fd again, while the operator loads the next kernel,
    finalizes and kexecs.  (``fdt_max``: v5's parameter, unused - the root is one page.)"""
    boxes = ("fdbox0", "fdbox1")
    m, kho = _machine("fdbox-race", fdbox_race.__doc__, pages, fail_allocs, mutants, boxes, 3)
    m.task("fdbox0", fdbox, kho, "fdbox0", 1, False)
    m.task("fdbox1", fdbox, kho, "fdbox1", 1, True)
    m.task("operator", operator, kho, (("load", 0), ("finalize", 1), ("kexec", 0)))
    _register(m, kho, boxes, False, (KEXEC_REACHED, FINALIZE_OK, ADD_REFUSED, REVIVED))
    return m


def fdt_max_grow(pages: int = 8, fail_allocs: int = 0, fdt_max: int = PAGE_SIZE,
                 mutants: str = "") -> Model:
    """v5's fdt-max-grow: kexec_file_load first, then the handed-over data grows past a page
    (a user writes a 5000-byte FDT into an order-1 folio it preserves and links its address),
    then kexec auto-finalizes.  (``fdt_max``: v5's parameter; there is no such knob here.)"""
    m, kho = _machine("fdt-max-grow", fdt_max_grow.__doc__, pages, fail_allocs, mutants,
                      (BIG,), 1)
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
