"""Scenarios shared by the LUO-era designs (6.19, 7.1, 7.2), built over an era's linked kernel.

Each builder takes the era's kernel namespace (``ERA.namespace()``, a
:class:`khomc.kho.ledger.Kernel`; ``khomc bisect`` passes a prefix of the ledger) and composes
the kho_init task, drivers and an operator over one :class:`khomc.kho.k6_19.kexec_handover.KhoOut`
of it, then registers the promises of :mod:`khomc.promises.luo`.  Scenario names and parameters
match v5's where the scenario means the same thing (``fdbox-race``, ``fdt-max-grow``), so a v5
trace can be replayed against these eras; ``fdt_max`` is accepted there only for that reason
(these eras have no such knob).
"""

from __future__ import annotations

from khomc.scenarios.counters import count_up as _count_up, wait_for as _wait_for
from khomc.drivers.fdbox_luo import alloc_preserved, fdbox
from khomc.drivers.luo_operator import operator
from khomc.kernel.alloc import PAGE_SHIFT, PAGE_SIZE, Heap, folio_alloc, folio_put, memcpy_to
from khomc.kernel.errno import ENOMEM
from khomc.runtime import Model
from khomc.runtime.effects import Update, choose, store
from khomc.drivers.luo_userspace import wait_userspace
from khomc.promises import luo as props
from khomc.kho.fdt import FdtTree, flatten
from khomc.kho.k6_19.kexec_handover import KhoOut, kho_wait_ready
from khomc.promises.v5 import FINALIZE_OK, KEXEC_REACHED, REVIVED

FDT_MAX = 1024
TEST_SITES = frozenset({"kho_debugfs_fdt_add", "kho_test_save", "kho_test_save(fdt)", "vcalloc",
                        "new_vmalloc_chunk"})


def _mutants(text: str) -> frozenset:
    return frozenset(t.strip() for t in text.split(",") if t.strip())


def machine(k, name: str, doc: str, pages: int, fail_allocs: int, mutants: str, ntasks: int,
            fail_sites: frozenset | None = None, luo: bool = True, boot_range: int = 0):
    """The model, the heap (one page range per task, kho_init's first; *boot_range* pages of
    boot-reserved memory at PFN 0) and kho_out of the linked kernel *k*; the kho_init task
    (fs_initcall) is added here."""
    m = Model(k.ERA.name, name, doc=doc)
    heap = Heap(m, pages, ntasks + 1, fail_allocs, fail_sites, boot_range=boot_range)
    kho = KhoOut(m, heap, k, _mutants(mutants), luo)
    m.task("kho_init", kho_init, kho)
    return m, kho


async def kho_init(kho) -> int:
    """The fs_initcall: the linked kernel's kho_init.  (A task's function is a module-level
    one so that the engines' coverage finds its module; the linked functions live in the era
    namespace, not in a module.)"""
    return await kho.k.kho_init(kho)


async def kho_test_init(kho) -> int:
    """insmod test_kho: the linked kernel's kho_test_init (lib/test_kho.c)."""
    return await kho.k.kho_test_init(kho)


def _guards(kho, *extra) -> tuple:
    base = (KEXEC_REACHED, FINALIZE_OK) if kho.has_finalize else (KEXEC_REACHED,)
    return base + extra


def test_kho_scenario(k, pages: int = 16, fail_allocs: int = 0, mutants: str = "",
                      luo: bool = True, finalize: bool = True):
    """lib/test_kho.c's module_init at boot, then the selftest's init: (debugfs finalize,)
    kexec_file_load, reboot(RB_KEXEC); the next kernel restores and checks."""
    m, kho = machine(k, "test-kho", test_kho_scenario.__doc__, pages, fail_allocs, mutants, 1,
                     TEST_SITES, luo)
    steps = (("module", (kho_test_init, ())),)
    if finalize and kho.has_finalize:
        steps += (("finalize", 1),)
    steps += (("load", 0), ("kexec", 0))
    m.task("operator", operator, kho, steps)
    props.register(m, kho, (), True, _guards(kho, REVIVED, props.RESTORE_OK))
    return m


def test_kho_race(k, pages: int = 16, fail_allocs: int = 0, mutants: str = ""):
    """lib/test_kho.c's module_init races the operator's kexec_file_load and reboot (an insmod
    while userspace reboots); no debugfs finalize, the reboot path does it (6.19: LUO)."""
    m, kho = machine(k, "test-kho-race", test_kho_race.__doc__, pages, fail_allocs, mutants, 2)
    m.task("kho_test", kho_test_init, kho)
    m.task("operator", operator, kho, (("load", 0), ("kexec", 0)))
    props.register(m, kho, (), True, _guards(kho, REVIVED, props.RESTORE_OK))
    return m


def fdbox_race(k, pages: int = 8, fail_allocs: int = 0, fdt_max: int = FDT_MAX,
               mutants: str = ""):
    """Two FDBoxes save an fd each, the second drops its fd again, while the operator loads
    the next kernel, finalizes (6.19) and kexecs.  (``fdt_max``: v5's parameter, unused.)"""
    boxes = ("fdbox0", "fdbox1")
    m, kho = machine(k, "fdbox-race", fdbox_race.__doc__, pages, fail_allocs, mutants, 3)
    m.task("fdbox0", fdbox, kho, "fdbox0", 1, False)
    m.task("fdbox1", fdbox, kho, "fdbox1", 1, True)
    steps = (("load", 0),) + ((("finalize", 1),) if kho.has_finalize else ()) + (("kexec", 0),)
    m.task("operator", operator, kho, steps)
    props.register(m, kho, boxes, False, _guards(kho, REVIVED))
    return m


async def big_user(kho) -> int:
    """A user whose FDT is bigger than a page: 5000 bytes in an order-1 folio it preserves."""
    fdt = await alloc_preserved(kho, 1, "big_user")
    if fdt < 0:
        return fdt
    blob = flatten(FdtTree("", (("blob", b"k" * props.BIG_BYTES),), ()), 2 * PAGE_SIZE)
    if isinstance(blob, int):
        return -ENOMEM
    await memcpy_to(kho.heap, fdt, blob, "big_user")
    if isinstance(kho, KhoOut):
        return await kho.add_subtree(props.BIG, fdt, len(blob))
    return await kho.add_subtree(props.BIG, fdt)          # v5-recursive's add: no size


def fdt_max_grow(k, pages: int = 8, fail_allocs: int = 0, fdt_max: int = PAGE_SIZE,
                 mutants: str = ""):
    """v5's fdt-max-grow on this era: kexec_file_load first, then the handed-over data grows
    past a page (a user links a 5000-byte FDT), then kexec.  (``fdt_max``: v5's parameter;
    this era has no fdt_max, kexec_file_load records only the root FDT's address.)"""
    m, kho = machine(k, "fdt-max-grow", fdt_max_grow.__doc__, pages, fail_allocs, mutants, 1)
    m.task("operator", operator, kho, (("load", 0), ("module", (big_user, ())), ("kexec", 0)))
    props.register(m, kho, (), False, _guards(kho, REVIVED))
    return m


def luo_session_race(k, pages: int = 10, fail_allocs: int = 0, mutants: str = "",
                     race: bool = True, close: bool = True, nr_folios: int = 1,
                     name: str = "luo-session-race", doc: str | None = None,
                     vmalloc_size: int = 0):
    """A userspace LUO agent (model/drivers/luo_userspace.py) creates session "s0", writes a
    memfd of *nr_folios* pages, PRESERVE_FDs it (luo_preserve_file -> memfd_luo_preserve) and
    may close the session fd (luo_session_release -> memfd_luo_unpreserve), while the operator
    loads and reboots (kernel_kexec -> liveupdate_reboot -> luo_session_serialize, which
    freezes the session's files -> memfd_luo_freeze; then kho_finalize where the era has it).
    ``race=False``: the operator waits until the agent is done (the sequential use the LUO
    documentation asks for); ``close=False``: the agent never closes.  The era's own scenario
    module explains its verdicts."""
    from khomc.drivers import luo_userspace as us
    m, kho = machine(k, name, doc or luo_session_race.__doc__, pages, fail_allocs, mutants, 3)
    kho.vmalloc_size = vmalloc_size          # memfd-luo's chunk=, 0: the kernel's 511
    kho.luo_session_global = k.LuoSessionGlobal(m, 1, (k.MEMFD_LUO_HANDLER,))
    ready = m.var("luo_late_startup.done", None)
    record = m.var("userspace.record", ())
    done = m.var("userspace.done", False)
    m.task("luo_init", us.luo_init, kho, ready)
    m.task("userspace", us.luo_userspace, kho, ready, record, done, nr_folios, close)
    steps = (("module", (us.luo_wait_ready, (ready,))),)
    if not race:
        steps += (("module", (us.wait_userspace, (done,))),)
    m.task("operator", operator, kho, steps + (("load", 0), ("kexec", 0)))
    props.register_luo(m, kho, record, _guards(kho, REVIVED))
    return m


def memfd_luo(k, pages: int = 8, fail_allocs: int = 0, mutants: str = "", chunk: int = 511):
    """memfd through LUO as the kernel does it (not a subtree linked at module load): the
    userspace agent creates session "s0", writes a 2-page memfd and PRESERVE_FDs it
    (luo_preserve_file -> memfd_luo_preserve); then the operator loads and reboots
    (liveupdate_reboot -> luo_session_serialize -> memfd_luo_freeze; kho_finalize where the era
    has it); the next kernel's LUO subtree and memfd_luo_retrieve give the bytes back.  The
    agent finishes before the reboot and never closes (luo-session-race is the racing
    variant).  ``chunk``: ``ARRAY_SIZE(chunk->phys)`` of the build (511; with 1 the one-page
    folios_ser fills its chunk and kho_preserve_vmalloc allocates the next)."""
    return luo_session_race(k, pages, fail_allocs, mutants, race=False, close=False,
                            nr_folios=2, name="memfd-luo", doc=memfd_luo.__doc__,
                            vmalloc_size=0 if chunk == 511 else chunk)


SUBTREE_NAME_LEN = 44                  # names that fill the root page at a failing fdt_setprop
SUBTREE_MAX = 64


async def subtree_filler(kho) -> tuple:
    """A user that links one preserved blob under ever more names until kho_add_subtree
    fails: ``(subtrees linked, the failing call's return)``."""
    await kho_wait_ready(kho)
    blob = await alloc_preserved(kho, 0, "subtree_filler")
    if blob < 0:
        return (0, blob)
    i = 0
    err = 0
    while i < SUBTREE_MAX:
        name = ("s%02d" % i).ljust(SUBTREE_NAME_LEN, "x")
        if isinstance(kho, KhoOut):
            err = await kho.add_subtree(name, blob, PAGE_SIZE)
        else:
            err = await kho.add_subtree(name, blob)
        if err:
            break
        i += 1
    return (i, err)


def subtree_full(k, pages: int = 8, fail_allocs: int = 0, mutants: str = ""):
    """A user fills the one-page root FDT with subtrees (44-character names) until
    kho_add_subtree fails, while the operator loads and reboots.  With these names the
    failing call is the one whose fdt_add_subnode fits and whose fdt_setprop does not: before
    9ec953298948 (Fixes: 3dc92c311498) kho_add_subtree returns the raw libfdt error
    (-FDT_ERR_NOSPACE) and leaves the incomplete node in the root FDT, which is handed over;
    since the fix it deletes the node and returns -ENOMEM."""
    m, kho = machine(k, "subtree-full", subtree_full.__doc__, pages, fail_allocs, mutants, 2)
    m.task("user", subtree_filler, kho)
    m.task("operator", operator, kho, (("load", 0), ("kexec", 0)))
    props.register(m, kho, (), False, _guards(kho, REVIVED))
    return m


RANGE_NR = 3                           # pages 1..3 of an order-2 folio: split as order 0 + order 1


def _note(client, tid, entry):
    return client + (entry,), None


async def range_client(kho, client) -> int:
    """A client of kho_preserve_pages: three contiguous pages (the tail of an order-2 folio,
    so the range splits into an order-0 and an order-1 preservation), then - a choice - it
    unpreserves them again.  It records in its own slot *client* what it was told:
    ``("ok", phys, nr)`` after a 0 return, ``("unpreserving", phys, nr)`` before it calls
    kho_unpreserve_pages."""
    await kho_wait_ready(kho)
    folio = await folio_alloc(kho.heap, 2, "range_client")
    if not folio:
        return -ENOMEM
    phys = folio + PAGE_SIZE
    err = await kho.preserve_pages(phys, RANGE_NR)
    if err:
        await folio_put(kho.heap, folio, "range_client")
        return err
    await Update(client, _note, ("ok", phys, RANGE_NR), text="client: preserve_pages returned 0")
    if await choose((False, True), "range_client unpreserves"):
        await Update(client, _note, ("unpreserving", phys, RANGE_NR),
                     text="client: about to unpreserve")
        await kho.unpreserve_pages(phys, RANGE_NR)
    return 0


def preserve_pages_race(k, pages: int = 8, fail_allocs: int = 0, mutants: str = ""):
    """kho_preserve_pages (and maybe kho_unpreserve_pages) by a client while the operator
    loads and reboots; allocation failures (fail_allocs) hit the tracker's allocations inside
    the range loop, whose unwind must leave nothing preserved.  The client's own record of its
    return codes decides preserve-success-restorable."""
    m, kho = machine(k, "preserve-pages-race", preserve_pages_race.__doc__, pages, fail_allocs,
                     mutants, 2)
    client = m.var("client.results", ())
    m.task("client", range_client, kho, client)
    m.task("operator", operator, kho, (("load", 0), ("kexec", 0)))
    props.register(m, kho, (), False, _guards(kho, REVIVED), clients=client)
    return m


async def huge_vmalloc_client(kho, client, done) -> int:
    """A client of kho_preserve_vmalloc with a VM_ALLOW_HUGE_VMAP area: two order-1 folios
    (``get_vm_area_page_order(vm)`` = 1, four pages), its ``struct kho_vmalloc`` zeroed as a
    kzalloc'ed or static one is.  It records in its own slot *client* the call's outcome and
    the area's PFNs: ``("vmalloc-failed", pfns)`` or ``("vmalloc-ok", pfns)``."""
    await kho_wait_ready(kho)
    a = await folio_alloc(kho.heap, 1, "vmalloc_huge")
    b = await folio_alloc(kho.heap, 1, "vmalloc_huge") if a else 0
    if not b:
        return -ENOMEM
    k = kho.k
    vm = k.VmStruct((a, a + PAGE_SIZE, b, b + PAGE_SIZE), k.VM_ALLOC | k.VM_ALLOW_HUGE_VMAP, 1)
    err, _ = await k.kho_preserve_vmalloc(kho, vm, (0, 0, 0, 0))
    pfns = frozenset(p >> PAGE_SHIFT for p in vm.pages)
    await Update(client, _note, ("vmalloc-ok" if err == 0 else "vmalloc-failed", pfns),
                 text=f"client: kho_preserve_vmalloc returned {err}")
    await store(done, True)
    return err


def vmalloc_huge_unwind(k, pages: int = 16, fail_allocs: int = 1, mutants: str = "",
                        chunk: int = 1):
    """A huge-vmap vmalloc area (two order-1 blocks) preserved with kho_preserve_vmalloc
    while the operator loads and reboots; on a build whose chunk holds ``chunk`` (1) entries
    the first block fills the chunk, and the next chunk's allocation may fail.  The operator
    loads and reboots once the call has returned (a preserve racing the reboot is
    preserve-pages-race's, and loses pages for that other reason).  The unwind,
    ``err_free: kho_unpreserve_vmalloc(preservation)``, reads ``preservation->order``, which
    kho_preserve_vmalloc stores only on success: the caller's 0, so each order-1 block is
    unpreserved as one order-0 page - which was never tracked - and the block stays preserved.
    The call returns -ENOMEM, the next kernel reserves the block anyway (a kernel bug in every
    LUO era, mainline included: kernel/liveupdate/kexec_handover.c@dd03dd60e8cd's
    kho_preserve_vmalloc, unchanged in the newest stored mainline).  failed-preserve-undone says
    it from the client's own return code; no-preserved-page-lost from KHO's bookkeeping (its
    ghost drops the pages the unpreserve call named, which the tracker still holds at order 1:
    "reserved though nobody preserved them").  The mutant vmalloc-unwind-own-order (the unwind
    given the area's own order) and fail_allocs=0 hold."""
    m, kho = machine(k, "vmalloc-huge-unwind", vmalloc_huge_unwind.__doc__, pages, fail_allocs,
                     mutants, 2, fail_sites=frozenset({"new_vmalloc_chunk"}))
    kho.vmalloc_size = chunk
    client = m.var("client.results", ())
    done = m.var("client.done", False)
    m.task("client", huge_vmalloc_client, kho, client, done)
    m.task("operator", operator, kho, (("module", (wait_userspace, (done,))), ("load", 0),
                                       ("kexec", 0)))
    props.register(m, kho, (), False, _guards(kho, REVIVED), failed=client)
    return m


async def boot_range_client(kho, client, nr) -> int:
    """A client of kho_preserve_pages on *nr* pages of boot-reserved memory at PFN 0 (DRAM at
    physical address 0, as on arm64 boards such as the Raspberry Pi 4); it records
    ``("ok", 0, nr)`` after a 0 return."""
    await kho_wait_ready(kho)
    err = await kho.preserve_pages(0, nr)
    if err:
        return err
    await Update(client, _note, ("ok", 0, nr), text="client: preserve_pages returned 0")
    return 0


def preserve_pages_pfn0(k, pages: int = 10, fail_allocs: int = 0, mutants: str = "",
                        npages: int = RANGE_NR):
    """kho_preserve_pages of *npages* pages starting at PFN 0 (boot memory: ``Heap(
    boot_range=npages)``) while the operator loads and reboots.  Not a default scenario.

    Verdict: preserve-success-restorable VIOLATED on 6.19, 7.1 and mainline-2026-04 - the
    kernel bug of the range walk that range-pfn0 shows on 6.16-6.18 (its docstring, in
    khomc.scenarios.k6_16, has the arithmetic), as written at every era's commit:
    ``order = min(count_trailing_zeros(0), ilog2(npages))`` is -1, an ``unsigned int``
    0xffffffff; PFN 0 is recorded at that order (6.19: xarray index 0xffffffff; 7.1: radix key
    ``1UL << (KHO_ORDER_0_LOG2 - order)`` = 1 << 53, the unsigned difference being 53) and
    ``pfn += 1 << order`` leaps past the end (INT_MIN on x86-64 and arm64), so the call
    returns 0 having recorded PFN 0 alone.  The next kernel reserves [0, 2048) (6.19's
    deserialize_bitmap; 7.1's kho_radix_decode_key gives order 0xffffffff, phys ``key << 11``
    = 0, and kho_preserved_memory_reserve ``1 << (order + PAGE_SHIFT)`` = 2048): PFNs
    1..npages-1 go to the buddy allocator, and kho_restore_pages(0, npages) returns NULL
    (WARN_ON_ONCE: order 0xffffffff > MAX_PAGE_ORDER).  no-preserved-page-lost HOLDS here
    because the LUO-era property judges what KHO accepted (the ghost: PFN 0's record), not
    what the client was told; the client's failed restore is preserve-success-restorable.
    No commit fixes it: later mainline's 91e74fa8b1bc ("kho: make sure preservations do not
    span multiple NUMA nodes", in no era here) keeps the order and then asks pfn_to_nid of PFN
    ``0 + (1UL << 0xffffffff) - 1`` = 2**63 - 1 (count mod 64)."""
    m, kho = machine(k, "preserve-pages-pfn0", preserve_pages_pfn0.__doc__, pages, fail_allocs,
                     mutants, 2, boot_range=npages)
    client = m.var("client.results", ())
    m.task("client", boot_range_client, kho, client, npages)
    m.task("operator", operator, kho, (("load", 0), ("kexec", 0)))
    props.register(m, kho, (), False, _guards(kho, REVIVED), clients=client)
    return m


async def folio_client(kho, done) -> int:
    """One of three interchangeable clients: after kho_init, a folio of a chosen order (0 or
    1: folios of two orders) preserved with kho_preserve_folio; then ``done += 1``."""
    await kho_wait_ready(kho)
    order = await choose((0, 1), "folio order")
    folio = await folio_alloc(kho.heap, order, "folio_client")
    err = -ENOMEM
    if folio:
        err = await kho.preserve_folio(folio, order)
    await Update(done, _count_up, text="client done")
    return err


async def wait_clients(kho, done, clients) -> int:
    """The operator's first step: every client has returned."""
    await Update(done, _wait_for, clients, text=f"wait for {clients} clients")
    return 0


def three_preservers(k, pages: int = 16, fail_allocs: int = 0, mutants: str = "",
                     clients: int = 3):
    """*clients* interchangeable clients (same code, same arguments) each preserve a folio of
    order 0 or 1 concurrently with each other (on 6.19 the tracker's xa_load_or_alloc kzalloc
    + xa_cmpxchg raced three ways, the loser freeing its page; on 7.1 kho_radix_add_page
    under the tree's mutex), then the operator loads and reboots once every client has
    returned (the use the API asks for).  Memory: *pages* pages per task, claimed in the
    order the tasks first allocate (``Heap(claim=True)``), so the clients are declared
    symmetric and ``--symmetry`` identifies states that differ by a permutation of them."""
    m = Model(k.ERA.name, "three-preservers", doc=three_preservers.__doc__)
    heap = Heap(m, pages, clients + 2, fail_allocs, None, claim=True)
    kho = KhoOut(m, heap, k, _mutants(mutants), True)
    m.task("kho_init", kho_init, kho)
    done = m.var("clients.done", 0)
    names = tuple(f"client{i}" for i in range(clients))
    for name in names:
        m.task(name, folio_client, kho, done)
    m.task("operator", operator, kho, (("module", (wait_clients, (done, clients))), ("load", 0),
                                       ("kexec", 0)))
    m.symmetric([(name, ()) for name in names])
    props.register(m, kho, (), False, _guards(kho, REVIVED))
    return m


def stateless_scenarios(era) -> list:
    """The scenario table of the eras with no finalize (7.1 and later), each builder linked to
    *era*'s kernel unless ``kernel=`` names a ledger prefix (khomc bisect)."""
    import functools

    from khomc.runtime import Scenario
    from khomc.scenarios.params import declare

    def on(fn):
        @functools.wraps(fn)
        def build(kernel=None, **params):
            return fn(kernel or era.namespace(), **params)
        return build

    table = [
        ("test-kho", test_kho_scenario,
         {"pages": 16, "fail_allocs": 0, "mutants": "", "luo": True, "finalize": True},
         "lib/test_kho.c at boot; load, kexec; restore in the next kernel"),
        ("test-kho-race", test_kho_race, {"pages": 16, "fail_allocs": 0, "mutants": ""},
         "lib/test_kho.c's init || load, kexec"),
        ("fdbox-race", fdbox_race,
         {"pages": 8, "fail_allocs": 0, "fdt_max": FDT_MAX, "mutants": ""},
         "FDBox x2 save/drop an fd || load, kexec"),
        ("fdt-max-grow", fdt_max_grow,
         {"pages": 8, "fail_allocs": 0, "fdt_max": 4096, "mutants": ""},
         "load, then a user links a 5 KiB FDT, then kexec"),
        ("memfd-luo", memfd_luo, {"pages": 8, "fail_allocs": 0, "mutants": "", "chunk": 511},
         "userspace PRESERVE_FDs a 2-page memfd in a LUO session; load, kexec "
         "(liveupdate_reboot freezes it); memfd_luo_retrieve checks it"),
        ("luo-session-race", luo_session_race,
         {"pages": 10, "fail_allocs": 0, "mutants": "", "race": True, "close": True,
          "nr_folios": 1},
         "userspace: create session, PRESERVE_FD a memfd, maybe close || load, kexec "
         "(liveupdate_reboot serializes the sessions)"),
        ("subtree-full", subtree_full, {"pages": 8, "fail_allocs": 0, "mutants": ""},
         "a user fills the root FDT with subtrees until kho_add_subtree fails || load, kexec"),
        ("preserve-pages-race", preserve_pages_race,
         {"pages": 8, "fail_allocs": 0, "mutants": ""},
         "kho_preserve_pages of 3 pages (then maybe unpreserve) || load, kexec"),
        ("three-preservers", three_preservers,
         {"pages": 16, "fail_allocs": 0, "mutants": "", "clients": 3},
         "3 interchangeable clients preserve an order-0/1 folio each; load, kexec"),
        ("vmalloc-huge-unwind", vmalloc_huge_unwind,
         {"pages": 16, "fail_allocs": 1, "mutants": "", "chunk": 1},
         "a huge-vmap vmalloc area whose preserve fails at its second chunk; load, kexec"),
    ]
    scs = [Scenario(name, on(fn), params, doc) for name, fn, params, doc in table]
    scs.append(Scenario("preserve-pages-pfn0", on(preserve_pages_pfn0),
                        {"pages": 10, "fail_allocs": 0, "mutants": "", "npages": RANGE_NR},
                        PFN0_DOC, default=False))
    return declare(scs)


PFN0_DOC = ("kho_preserve_pages of 3 boot pages at PFN 0 (DRAM at 0) || load, kexec; "
            "not a default scenario")
