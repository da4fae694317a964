"""KHO v5, the seed design, this kernel's half: state tree, tracker, finalize/unfreeze, debugfs, kexec.

Mirrors kernel/kexec_handover.c of the v5 series "kexec: introduce Kexec HandOver (KHO)" by
Changyuan Lyu (20250320015551.2157511-1-changyuanl@google.com), statement for statement.  The
ledger of the series' internal structure (which patch each function comes from):

* patch 07/16 "kexec: add Kexec HandOver (KHO) generation helpers"
  (20250320015551.2157511-8-changyuanl@google.com): ``struct kho_out`` (chain_head, fdt_file,
  tree_lock, root, fdt, fdt_max = 10 MiB), register/unregister_kho_notifier, kho_add_node,
  kho_remove_node, kho_add_prop, kho_add_string_prop, kho_remove_prop,
  kho_out_update_debugfs_fdt, kho_unfreeze (its ``notifier_to_errno`` applied twice, so an
  UNFREEZE callback's error is lost), kho_flatten_tree / kho_convert_tree, kho_finalize (on a
  FINALIZE-chain error it jumps to ``unfreeze:`` without kvfree'ing its buffer: the leak is
  kept), kho_out_finalize_set (the debugfs blob decides the return code after a successful
  finalize/unfreeze), kho_out_fdt_max_set, kho_init's root ``compatible``;
* patch 09/16 "kexec: enable KHO support for memory preservation"
  (20250320015551.2157511-10-changyuanl@google.com): ``kho_mem_track``, xa_load_or_alloc,
  __kho_unpreserve, __kho_preserve, kho_preserve_folio, kho_unpreserve_folio,
  kho_preserve_phys (``order`` initialised once; ``ilog2(end_pfn - pfn)`` alone; the unwind
  loop reuses the failed step's ``order``), kho_unpreserve_phys, new_chunk, kho_mem_ser_free,
  kho_mem_serialize, the ``first_chunk_phys`` / ``preserved-memory`` additions to kho_unfreeze,
  kho_finalize and kho_init;
* patch 10/16 "kexec: add KHO support to kexec file loads"
  (20250320015551.2157511-11-changyuanl@google.com): kho_fill_kimage (an empty fdt_max
  segment, then the scratch array, both through kexec_add_buffer), kho_walk_scratch and
  kho_locate_mem_hole (every non-crash segment top-down in a kho_scratch[] area, else
  -EADDRNOTAVAIL; v5 has no check that preserved memory stays out of scratch - CMA is its
  only guard), kho_copy_fdt (auto-finalize,
  kho_out_update_debugfs_fdt with its result ignored, kimage_map_segment of PAGE_ALIGN of the
  CURRENT fdt_max, memcpy of fdt_totalsize) called from kernel_kexec.

The next kernel's half (patches 08 and 09) is kexec_handover_in.py.

Abstractions (why none changes a verdict):

* kho_scratch[] is one area (:data:`SCRATCH_DEFAULT`, 1 MiB above every modelled page), as
  kho_reserve_scratch (patch 07) leaves it at boot; its sizing from memblock and the per-node
  areas are not modelled.  Segment placement is kexec_file.c's top-down search inside it.
* ``kho_out.fdt != NULL`` is the frozen flag, as in v5; the slot holds the kvmalloc'd buffer's
  address or 0.  ``kho_enable`` is true (every modelled boot has ``kho=on``); the
  ``-EOPNOTSUPP`` branches are kept but never taken.
* The state tree is one world slot: node id -> :class:`Node`.  Nodes are the callers' own
  ``struct kho_node`` (static in the drivers here), so they are not allocator objects; property
  values are pointers (``mem``), string literals (``static``) or ``&kho_out.first_chunk_phys``
  (``var``), read from memory only when the tree is converted, exactly as v5 does.
* A hash lookup and the hash_add/hash_del that follows it are one step.  The kerneldoc leaves
  concurrent updates of one non-root parent to the caller's locking; no modelled driver shares
  a node with another.
* The hash tables iterate in hash order in the kernel; the model writes properties and children
  sorted by name.  The FDT comparisons are order-insensitive (:func:`khomc.kho.fdt.canonical`).
* KHO's private bookkeeping (``struct kho_prop``, the kstrdup'ed node name) only matters through
  its allocation failing (-ENOMEM): :func:`khomc.kernel.alloc.may_allocate`.
* A debugfs dentry is one kzalloc'd object: debugfs_create_blob allocates it (failure ->
  ERR_PTR, so -ENOENT), debugfs_remove frees it.  Removing an already removed dentry is thus
  reported as a KASAN double free (the kernel's report would be a use-after-free inside
  debugfs_remove): the same finding, named by the same call site.
* A khoser_mem_chunk is written once it is complete (hdr.order, num_elms and the bitmap
  pointers in one memcpy): nobody but the finalizer can reach a chunk before
  kho_out.first_chunk_phys is set, so the number of steps used to fill it is not observable.
* ``xa_entries`` takes each xarray's entries in one step, one possible outcome of
  ``xa_for_each`` racing with inserts (no inserter runs while frozen, except in mutants).

Reduction (Lipton's movers, so that the default scenarios stay exhaustively checkable): a
critical section whose accesses all touch data that only holders of that lock write is one
step, taken when the lock is taken (``atomic(...)``): a tree mutator's down_read/hash
update/up_read; the freeze and the unfreeze swap under down_write; the freeze check right after
down_read in the tracker; and the kexec-lock sections that only read or write kho_out.fdt_max
and the kexec image.  Acquiring a lock moves right and releasing it moves left past every other
task's step, and accesses to lock-protected data commute with everything another task can do
meanwhile, so every reachable state of the fine-grained model at which some property is
evaluated - no task inside such a section - is reachable here, and a deadlock still shows,
since a section may block on its first step.  The tracker's xarray and bitmap accesses, which
concurrent readers of tree_lock share, stay separate steps, as does every access of the
finalize path that is not protected this way.

Ghost state (never read by the model code, only by properties): the pages the CLIENTS were
told are preserved (their own ranges, with the return codes they got), the tree and the
property bytes at the freeze point, and whether a mutator was refused because of the freeze.

Mutants (``mutants=`` names) break one rule each so the test suite can show every property
failing: see :data:`MUTANTS`.  None is a posted patch; the six that change kernel code are
Deltas (khomc.kho.v5.mutants, linked as an era on top of the scenario's), so no function here
tests a mutant flag; ``scratch-overlaps-memory`` (a boot layout of kho_scratch[]) and
``fdbox-retries-ebusy`` (a driver's behaviour) stay flags - neither changes KHO code.
"""

from __future__ import annotations

from typing import NamedTuple

from khomc.kernel.alloc import PAGE_SHIFT, Heap, free_page, get_zeroed_page, heap_read_bytes, kfree, kvfree, kvmalloc, kzalloc, lookup, may_allocate, memcpy_to, read_phys
from khomc.kernel.alloc import KasanReport, _check
from khomc.kernel.bitops import clear_bit, ilog2, set_bit
from khomc.kernel.errno import EADDRNOTAVAIL, EBUSY, EEXIST, EINVAL, ENOENT, ENOMEM, EOPNOTSUPP
from khomc.kernel import kexec
from khomc.kernel.kexec import Kimage, Segment, add_buffer, kexec_trylock_and_load, page_align
from khomc.kernel.locking import KexecLock, RwSemaphore, down_read, down_write, kexec_trylock, kexec_unlock, up_read, up_write
from khomc.kernel.notifier import BlockingNotifierHead, NotifierBlock, blocking_notifier_call_chain, blocking_notifier_chain_register, blocking_notifier_chain_unregister, notifier_to_errno
from khomc.kernel.xarray import XArray, xa_cmpxchg, xa_entries, xa_load
from khomc.runtime.effects import Op, atomic, load, store
from khomc.runtime.spec import Model
from khomc.runtime.tasks import SpecError
from khomc.kho.fdt import FdtTree, flatten
KEXEC_KHO_FINALIZE = 0
KEXEC_KHO_UNFREEZE = 1

KHO_FDT_COMPATIBLE = b"kho-v1\0"
FDT_MAX_DEFAULT = 10 << 20            # kho_out.fdt_max = 10 * SZ_1M

ROOT = "/"                            # the node id of kho_out.root (its FDT name is "")
PRESERVED_MEMORY = "preserved-memory"

MUTANTS = {
    "add-skips-freeze-check": "the tree mutators ignore kho_out.fdt (no -EBUSY once frozen)",
    "serialize-before-freeze": "kho_finalize serializes the map and converts the tree before "
                               "it freezes",
    "preserve-skips-freeze-check": "kho_preserve_folio/phys ignore kho_out.fdt",
    "unfreeze-keeps-chunk-pointer": "kho_unfreeze frees the chunk list but leaves "
                                    "kho_out.first_chunk_phys pointing at it",
    "chain-under-tree-lock": "kho_finalize runs the FINALIZE chain holding tree_lock for write",
    "scratch-overlaps-memory": "kho_reserve_scratch's area is the first 64 pages, where the "
                               "allocator's memory is (CMA no longer keeps KHO pages out)",
    "copy-skips-autofinalize": "kho_copy_fdt does not finalize an unfrozen KHO: it copies "
                               "from kho_out.fdt == NULL",
    "fdbox-retries-ebusy": "(a driver mutant) the FDBox retries kho_preserve_folio while it "
                           "returns -EBUSY, busy-waiting for an unfreeze that never comes",
}


class Node(NamedTuple):
    """One ``struct kho_node``: its properties and children, each sorted by name.

    Invariant: keys in ``props`` and names in ``children`` are unique.
    """

    props: tuple = ()       # ((key, value), ...), value: ("static", bytes) | ("mem", addr, size)
    children: tuple = ()    # ((name, node id), ...)                          | ("var", name)


def static(value: bytes) -> tuple:
    """A property value in rodata (a string literal): never freed."""
    return ("static", value)


def string(text: str) -> tuple:
    """``kho_add_string_prop``'s value: the string and its NUL.

    >>> string("kho")
    ('static', b'kho\\x00')
    """
    return ("static", text.encode() + b"\0")


def mem(addr: int, size: int) -> tuple:
    """A property value in allocated memory: the tree records the pointer, not the bytes."""
    return ("mem", addr, size)


class Ghost(NamedTuple):
    """What the properties need to know about the history (see the module docstring)."""

    promised: frozenset = frozenset()   # PFNs KHO accepted to preserve and has not released
    frozen_tree: tuple | None = None    # kho_out.tree at the last freeze
    frozen_values: tuple = ()           # ((addr, bytes), ...) of every mem property then
    refused: bool = False               # a tree mutator returned -EBUSY because of the freeze
    touched_frozen: bool = False        # a tracker call got past the freeze check while frozen


class Handover(NamedTuple):
    """The machine at machine_kexec: the image, all of memory, and the ghost at that moment."""

    image: Kimage
    pages: tuple
    ghost: Ghost
    tree: tuple
    first_chunk_phys: int


def initial_tree(nodes=(), attached=(), props=()) -> tuple:
    """kho_init's tree plus the drivers' static nodes.

    *nodes*: extra node ids (KHO_NODE_INIT); *attached*: ``(parent, name, child)`` links made
    at boot; *props*: ``(node, key, value)`` present at boot.
    """
    tree = {ROOT: Node(), PRESERVED_MEMORY: Node()}
    for n in nodes:
        tree[n] = Node()
    links = ((ROOT, "preserved-memory", PRESERVED_MEMORY),) + tuple(attached)
    for parent, name, child in links:
        tree[parent] = tree[parent]._replace(
            children=tuple(sorted(tree[parent].children + ((name, child),))))
    all_props = ((ROOT, "compatible", static(KHO_FDT_COMPATIBLE)),
                 (PRESERVED_MEMORY, "metadata", ("var", "first_chunk_phys"))) + tuple(props)
    for node, key, value in all_props:
        tree[node] = tree[node]._replace(props=tuple(sorted(tree[node].props + ((key, value),))))
    return tuple(sorted(tree.items()))


class KhoV5:
    """``kho_out`` and ``kho_mem_track`` of one scenario: handles on their world slots."""

    def __init__(self, model: Model, heap: Heap, fdt_max: int = FDT_MAX_DEFAULT,
                 tree: tuple | None = None, mutants: frozenset = frozenset(), kernel=None,
                 scratch: tuple = None):
        if kernel is None:
            from khomc.kho.v5 import ERA          # the package links this module: import late
            kernel = ERA.namespace()
        self.kernel = kernel                      # the linked era drivers call into
        if scratch is None:
            scratch = ((0, 64 << 12),) if "scratch-overlaps-memory" in mutants else \
                SCRATCH_DEFAULT
        unknown = set(mutants) - set(MUTANTS)
        if unknown:
            raise ValueError(f"unknown v5 mutants {sorted(unknown)}; known: {sorted(MUTANTS)}")
        from khomc.kho.v5.mutants import with_mutants
        self.kernel = kernel = with_mutants(kernel, frozenset(mutants))
        self.heap = heap
        self.mutants = frozenset(mutants)
        self.chain = BlockingNotifierHead(model, "kho_out.chain_head")
        self.tree_lock = RwSemaphore.new(model, "kho_out.tree_lock")
        self.tree = model.var("kho_out.tree", tree if tree is not None else initial_tree())
        self.fdt = model.var("kho_out.fdt", 0)
        self.fdt_max = model.var("kho_out.fdt_max", fdt_max)
        self.first_chunk_phys = model.var("kho_out.first_chunk_phys", 0)
        self.fdt_file = model.var("kho_out.fdt_file", 0)      # dentry, 0 or ERR_PTR
        self.orders = XArray.at_var(model.var("kho_mem_track.orders", ()))
        self.kexec_lock = KexecLock.new(model, "__kexec_lock")
        self.image = model.var("kexec_image", None)
        self.scratch = scratch                    # kho_scratch[] (kho_reserve_scratch at boot)
        self.ghost = model.var("ghost", Ghost())
        self.handover = model.var("handover", None)

    def __repr__(self):
        return "kho_out"


# -- the state tree (patch 07) ---------------------------------------------------------------------

def _node(tree: tuple, node_id: str) -> Node:
    for nid, node in tree:
        if nid == node_id:
            return node
    raise SpecError(f"{node_id!r} is not a kho_node: the scenario never kho_init_node'd it "
                    "(list it in initial_tree(nodes=...))")


def _with_node(tree: tuple, node_id: str, node: Node) -> tuple:
    return tuple((nid, node if nid == node_id else n) for nid, n in tree)


def _refuse(values, skip):
    """The freeze check every mutator makes under tree_lock; records a refusal in the ghost."""
    fdt, tree, ghost = values
    if fdt and not skip:
        return (fdt, tree, ghost._replace(refused=True)), -EBUSY
    return None


def _add_entry(values, node_id, field: str, key, value, skip):
    """Add (key, value) to a node's ``children`` or ``props``: 0, 1 if already there with the
    same value, -EEXIST with another, -EBUSY once frozen."""
    refused = _refuse(values, skip)
    if refused:
        return refused
    fdt, tree, ghost = values
    node = _node(tree, node_id)
    entries = getattr(node, field)
    for k, v in entries:
        if k == key:
            return values, (1 if v == value else -EEXIST)
    node = node._replace(**{field: tuple(sorted(entries + ((key, value),)))})
    return (fdt, _with_node(tree, node_id, node), ghost), 0


def _remove_entry(values, node_id, field: str, key, skip):
    """Remove *key* from a node's ``children`` or ``props``: its value, -ENOENT, -EBUSY."""
    refused = _refuse(values, skip)
    if refused:
        return refused
    fdt, tree, ghost = values
    node = _node(tree, node_id)
    entries = getattr(node, field)
    for k, v in entries:
        if k == key:
            node = node._replace(**{field: tuple(e for e in entries if e[0] != key)})
            return (fdt, _with_node(tree, node_id, node), ghost), v
    return values, -ENOENT


def _add_node(values, tid, parent, name, child, skip):
    return _add_entry(values, parent, "children", name, child, skip)


def _remove_node(values, tid, parent, name, skip):
    return _remove_entry(values, parent, "children", name, skip)


def _add_prop(values, tid, node_id, key, value, skip):
    return _add_entry(values, node_id, "props", key, value, skip)


def _remove_prop(values, tid, node_id, key, skip):
    return _remove_entry(values, node_id, "props", key, skip)


def _tree_vars(kho: KhoV5):
    return (kho.fdt, kho.tree, kho.ghost)


async def _lock_for(kho: KhoV5, parent: str) -> None:
    if parent == ROOT:
        await down_write(kho.tree_lock)
    else:
        await down_read(kho.tree_lock)


async def _unlock_for(kho: KhoV5, parent: str) -> None:
    if parent == ROOT:
        await up_write(kho.tree_lock)
    else:
        await up_read(kho.tree_lock)


async def _tree_section(kho: KhoV5, parent: str, effect: Op):
    """tree_lock (write for the root's children, read otherwise), the hash update, unlock."""
    await _lock_for(kho, parent)
    ret = await effect
    await _unlock_for(kho, parent)
    return ret


async def _mutate(kho: KhoV5, parent: str, fn, args: tuple, text: str):
    effect = Op(_tree_vars(kho), fn, *args, False, text=text)
    return await atomic(_tree_section)(kho, parent, effect)


async def kho_add_node(kho: KhoV5, parent: str | None, name: str, child: str) -> int:
    """0, 1 if *child* is already there as *name*, -EEXIST, -EBUSY once frozen, -ENOMEM."""
    parent = ROOT if parent is None else parent
    if not await may_allocate(kho.heap, "kstrdup in kho_add_node"):
        return -ENOMEM
    return await _mutate(kho, parent, _add_node, (parent, name, child),
                         f"kho_add_node({parent}, {name!r}, {child})")


async def kho_remove_node(kho: KhoV5, parent: str | None, name: str):
    """The removed child's id, or -ENOENT / -EBUSY."""
    parent = ROOT if parent is None else parent
    return await _mutate(kho, parent, _remove_node, (parent, name),
                         f"kho_remove_node({parent}, {name!r})")


async def kho_add_prop(kho: KhoV5, node: str, key: str, value: tuple) -> int:
    """0, 1 if the same pointer and size are there under *key*, -EEXIST, -EBUSY, -ENOMEM."""
    if not await may_allocate(kho.heap, "kmalloc(kho_prop) in kho_add_prop"):
        return -ENOMEM
    return await _mutate(kho, node, _add_prop, (node, key, value),
                         f"kho_add_prop({node}, {key!r})")


async def kho_add_string_prop(kho: KhoV5, node: str, key: str, text: str) -> int:
    return await kho_add_prop(kho, node, key, string(text))


async def kho_remove_prop(kho: KhoV5, node: str, key: str):
    """The removed value (a pointer) or -ENOENT / -EBUSY."""
    return await _mutate(kho, node, _remove_prop, (node, key),
                         f"kho_remove_prop({node}, {key!r})")


async def register_kho_notifier(kho: KhoV5, nb: NotifierBlock) -> int:
    return await blocking_notifier_chain_register(kho.chain, nb)


async def unregister_kho_notifier(kho: KhoV5, nb: NotifierBlock) -> int:
    return await blocking_notifier_chain_unregister(kho.chain, nb)


# -- the memory tracker (patch 09) ---------------------------------------------------------------

PRESERVE_BITS = 512 * 8               # bits in one struct kho_mem_phys_bits
BITMAP_BYTES = PRESERVE_BITS // 8
SIZEOF_KHO_MEM_PHYS = 16              # struct kho_mem_phys { struct xarray phys_bits; }
CHUNK_HDR = 16                        # khoser_mem_chunk_hdr: next (u64), order, num_elms (u32)
CHUNK_ELM = 16                        # khoser_mem_bitmap_ptr: phys_start (u64), bitmap (u64)
KHOSER_BITMAP_SIZE = ((1 << PAGE_SHIFT) - CHUNK_HDR) // CHUNK_ELM

kho_enable = True                     # "kho=on" on the command line of every modelled boot


async def xa_load_or_alloc(kho: KhoV5, xa: XArray, index: int, size: int, site: str):
    """The element at *index*, or a kzalloc'd one installed with xa_cmpxchg (NULL -> elm);
    the loser of a race kfree()s its element and returns the winner's; -ENOMEM."""
    elm = await xa_load(xa, index)
    if elm:
        return elm
    elm = await kzalloc(kho.heap, size, site)
    if not elm:
        return -ENOMEM
    res = await xa_cmpxchg(xa, index, None, elm)
    if res:
        await kfree(kho.heap, elm, site)
        return res
    return elm


def phys_bits(kho: KhoV5, physxa: int) -> XArray:
    """``physxa->phys_bits``: the xarray embedded in a kzalloc'd struct kho_mem_phys."""
    return XArray.in_object(kho.heap, physxa, "phys_bits")


async def __kho_unpreserve(kho: KhoV5, pfn: int, order: int) -> None:
    pfn_hi = pfn >> order
    physxa = await xa_load(kho.orders, order)
    if not physxa:
        return
    bits = await xa_load(phys_bits(kho, physxa), pfn_hi // PRESERVE_BITS)
    if not bits:
        return
    await clear_bit(kho.heap, bits, pfn_hi % PRESERVE_BITS, "__kho_unpreserve")


async def __kho_preserve(kho: KhoV5, pfn: int, order: int) -> int:
    pfn_hi = pfn >> order
    physxa = await xa_load_or_alloc(kho, kho.orders, order, SIZEOF_KHO_MEM_PHYS,
                                    "xa_load_or_alloc(orders)")
    if physxa < 0:
        return physxa
    bits = await xa_load_or_alloc(kho, phys_bits(kho, physxa), pfn_hi // PRESERVE_BITS,
                                  BITMAP_BYTES, "xa_load_or_alloc(phys_bits)")
    if bits < 0:
        return bits
    await set_bit(kho.heap, bits, pfn_hi % PRESERVE_BITS, "__kho_preserve")
    return 0


def _up_read_noting(values, tid, pfns, err, adding):
    """up_read(tree_lock), and in the same step the ghost learns what the caller was told:
    the client's own range with the return code it gets (never read by kernel code)."""
    (writer, readers), ghost, fdt = values
    if tid not in readers:
        return None
    if not err:
        promised = ghost.promised | pfns if adding else ghost.promised - pfns
        ghost = ghost._replace(promised=promised)
    if fdt and err != -EBUSY:
        ghost = ghost._replace(touched_frozen=True)
    return ((writer, readers - {tid}), ghost, fdt), None


async def _unlock(kho: KhoV5, pfns: frozenset, err: int, adding: bool) -> None:
    """The ``unlock:`` label of the four tracker entry points: up_read(&kho_out.tree_lock)."""
    await Op((kho.tree_lock.var, kho.ghost, kho.fdt), _up_read_noting, pfns, err, adding,
             text="up_read(kho_out.tree_lock)")


async def _down_read_frozen(kho: KhoV5) -> int:
    await down_read(kho.tree_lock)
    return await load(kho.fdt)


async def _frozen_for_tracker(kho: KhoV5) -> int:
    """down_read(&kho_out.tree_lock) and the ``if (kho_out.fdt)`` test, one step (Reduction)."""
    return await atomic(_down_read_frozen)(kho)


def _pfns(pfn: int, count: int) -> frozenset:
    return frozenset(range(pfn, pfn + max(count, 0)))


async def kho_preserve_folio(kho: KhoV5, phys: int, order: int) -> int:
    pfn = phys >> PAGE_SHIFT
    if not kho_enable:
        return -EOPNOTSUPP
    if await _frozen_for_tracker(kho):
        err = -EBUSY
    else:
        err = await __kho_preserve(kho, pfn, order)
    await _unlock(kho, _pfns(pfn, 1 << order), err, True)
    return err


async def kho_unpreserve_folio(kho: KhoV5, phys: int, order: int) -> int:
    """As posted: no kho_enable test here (only the preserve side has one)."""
    pfn = phys >> PAGE_SHIFT
    err = 0
    if await _frozen_for_tracker(kho):
        err = -EBUSY
    else:
        await __kho_unpreserve(kho, pfn, order)
    await _unlock(kho, _pfns(pfn, 1 << order), err, False)
    return err


async def kho_preserve_phys(kho: KhoV5, phys: int, size: int) -> int:
    """Patch 09 exactly: ``order`` is initialised once, from the whole range; the split uses
    ``ilog2(end_pfn - pfn)`` alone (no alignment term, so ``__kho_preserve`` records the
    aligned block ``pfn >> order`` contains, not [pfn, pfn + 2^order)); and the unwind loop
    restarts at PHYS_PFN(phys) WITHOUT recomputing ``order``: its first step uses the order of
    the failed step, and every later order follows from that shifted walk."""
    pfn = phys >> PAGE_SHIFT
    end_pfn = (phys + size) >> PAGE_SHIFT
    order = ilog2(end_pfn - pfn)
    failed_pfn = None                 # uninitialised in C; only read when err != 0
    err = 0
    if not kho_enable:
        return -EOPNOTSUPP
    if await _frozen_for_tracker(kho):
        err = -EBUSY
    else:
        while pfn < end_pfn:
            err = await __kho_preserve(kho, pfn, order)
            if err:
                failed_pfn = pfn
                break
            pfn += 1 << order
            order = ilog2(end_pfn - pfn)
        if err:
            pfn = phys >> PAGE_SHIFT
            while pfn < failed_pfn:
                await __kho_unpreserve(kho, pfn, order)
                pfn += 1 << order
                order = ilog2(end_pfn - pfn)
    start = phys >> PAGE_SHIFT
    await _unlock(kho, _pfns(start, end_pfn - start), err, True)
    return err


async def kho_unpreserve_phys(kho: KhoV5, phys: int, size: int) -> int:
    pfn = phys >> PAGE_SHIFT
    end_pfn = (phys + size) >> PAGE_SHIFT
    order = ilog2(end_pfn - pfn)
    err = 0
    if await _frozen_for_tracker(kho):
        err = -EBUSY
    else:
        while pfn < end_pfn:
            await __kho_unpreserve(kho, pfn, order)
            pfn += 1 << order
            order = ilog2(end_pfn - pfn)
    start = phys >> PAGE_SHIFT
    await _unlock(kho, _pfns(start, end_pfn - start), err, False)
    return err


# -- serialization of the tracker (patch 09) -------------------------------------------------------

def chunk_body(order: int, elms: tuple) -> bytes:
    """``hdr.order``, ``hdr.num_elms`` and the bitmaps[] of a khoser_mem_chunk (after hdr.next).

    >>> len(chunk_body(0, ((0, 0x3000),)))
    24
    """
    out = order.to_bytes(4, "little") + len(elms).to_bytes(4, "little")
    for phys_start, bitmap in elms:
        out += phys_start.to_bytes(8, "little") + bitmap.to_bytes(8, "little")
    return out


async def new_chunk(kho: KhoV5, cur: int, order: int) -> int:
    """get_zeroed_page; ``chunk->hdr.order = order`` is written with the rest of the body by
    kho_mem_serialize (see the module header); link it from *cur*."""
    chunk = await get_zeroed_page(kho.heap, "new_chunk")
    if not chunk:
        return 0
    if cur:
        await memcpy_to(kho.heap, cur, chunk.to_bytes(8, "little"), "new_chunk")
    return chunk


async def kho_mem_ser_free(kho: KhoV5, first: int) -> None:
    chunk = first
    while chunk:
        chunk_page = chunk
        head = await heap_read_bytes(kho.heap, chunk, 8, "kho_mem_ser_free")
        chunk = int.from_bytes(head, "little")
        await free_page(kho.heap, chunk_page, "kho_mem_ser_free")


async def kho_mem_serialize(kho: KhoV5) -> int:
    """The physical address of the first chunk (0 if nothing is tracked), or -ENOMEM.

    The chunks hold pointers to the live bitmaps, not copies.
    """
    orders = await xa_entries(kho.orders)
    first = 0
    chunk = 0
    i = 0
    while i < len(orders):
        order, physxa = orders[i]
        chunk = await new_chunk(kho, chunk, order)
        if not chunk:
            await kho_mem_ser_free(kho, first)
            return -ENOMEM
        if not first:
            first = chunk
        bitmaps = await xa_entries(phys_bits(kho, physxa))
        elms = ()
        j = 0
        while j < len(bitmaps):
            if len(elms) == KHOSER_BITMAP_SIZE:
                await memcpy_to(kho.heap, chunk, chunk_body(order, elms), "kho_mem_serialize", 8)
                chunk = await new_chunk(kho, chunk, order)
                if not chunk:
                    await kho_mem_ser_free(kho, first)
                    return -ENOMEM
                elms = ()
            idx, bits = bitmaps[j]
            elms = elms + (((idx * PRESERVE_BITS) << (order + PAGE_SHIFT), bits),)
            j += 1
        await memcpy_to(kho.heap, chunk, chunk_body(order, elms), "kho_mem_serialize", 8)
        i += 1
    return first


# -- conversion to an FDT (patch 07) ---------------------------------------------------------------

def tree_props(tree: tuple) -> tuple:
    """Every property in DFS order from the root: ``((node id, key, value), ...)``."""
    out = []
    seen = set()

    def walk(nid):
        if nid in seen:               # a node linked twice is written twice; a cycle once
            return
        seen.add(nid)
        node = _node(tree, nid)
        for key, value in node.props:
            out.append((nid, key, value))
        for _, child in node.children:
            walk(child)
        seen.discard(nid)

    walk(ROOT)
    return tuple(out)


def fdt_tree(tree: tuple, values: tuple) -> FdtTree:
    """The FdtTree of *tree* with *values* (bytes, in :func:`tree_props` order) as contents."""
    it = iter(values)
    seen = set()

    def build(nid, name):
        seen.add(nid)
        node = _node(tree, nid)
        props = tuple((key, next(it)) for key, _ in node.props)
        kids = tuple(build(child, cname) for cname, child in node.children if child not in seen)
        seen.discard(nid)
        return FdtTree(name, props, kids)

    return build(ROOT, "")


def _value_bytes(value: tuple, data: bytes) -> bytes:
    return data if value[0] != "static" else value[1]


async def kho_convert_tree(kho: KhoV5, fdt: int, size: int) -> int:
    """Flatten the frozen tree into the *size*-byte buffer at *fdt*; -EINVAL if it overflows."""
    tree = await load(kho.tree)
    props = tree_props(tree)
    values = ()
    i = 0
    while i < len(props):
        value = props[i][2]
        if value[0] == "mem":
            data = await heap_read_bytes(kho.heap, value[1], value[2], "kho_flatten_tree")
        elif value[0] == "var":
            phys = await load(kho.first_chunk_phys)
            data = phys.to_bytes(8, "little")
        else:
            data = value[1]
        values = values + (data,)
        i += 1
    blob = flatten(fdt_tree(tree, values), size)
    if isinstance(blob, int):
        return -EINVAL                 # "failed to flatten state tree", any libfdt error
    await memcpy_to(kho.heap, fdt, blob, "kho_convert_tree")
    return 0


# -- finalize and unfreeze (patches 07 and 09) -----------------------------------------------------

def _freeze(values, tid, fdt):
    """``kho_out.fdt = fdt`` under down_write: the linearization point.  The ghost records the
    tree and the bytes behind every pointer in it at this instant."""
    _, tree, ghost, pages = values
    frozen_values = []
    for _, _, value in tree_props(tree):
        if value[0] == "mem":
            frozen_values.append((value[1], read_phys(pages, value[1], value[2])))
    ghost = ghost._replace(frozen_tree=tree, frozen_values=tuple(frozen_values))
    return (fdt, tree, ghost, pages), None


async def _write_section(kho: KhoV5, effect: Op):
    await down_write(kho.tree_lock)
    ret = await effect
    await up_write(kho.tree_lock)
    return ret


async def _set_frozen(kho: KhoV5, fdt: int) -> None:
    await atomic(_write_section)(kho, Op((kho.fdt, kho.tree, kho.ghost, kho.heap.pages),
                                         _freeze, fdt, text=f"kho_out.fdt = {fdt:#x} [freeze]"))


def _take_fdt(values, tid):
    fdt, = values
    return (0,), fdt


async def kho_unfreeze(kho: KhoV5) -> int:
    fdt = await atomic(_write_section)(kho, Op((kho.fdt,), _take_fdt,
                                               text="fdt = kho_out.fdt; kho_out.fdt = NULL"))
    if fdt:
        await kvfree(kho.heap, fdt, "kho_unfreeze")
    first = await load(kho.first_chunk_phys)
    if first:
        await kho_mem_ser_free(kho, first)
        await store(kho.first_chunk_phys, 0)
    ret = await blocking_notifier_call_chain(kho.chain, KEXEC_KHO_UNFREEZE)
    err = notifier_to_errno(ret)
    return notifier_to_errno(err)      # as posted: twice, so a callback's -errno becomes 0


async def _serialize_and_convert(kho: KhoV5, fdt: int, fdt_max: int) -> int:
    first = await kho_mem_serialize(kho)
    if first < 0:
        return first
    await store(kho.first_chunk_phys, first)
    return await kho_convert_tree(kho, fdt, fdt_max)


async def _finalize_chain(kho: KhoV5) -> int:
    ret = await blocking_notifier_call_chain(kho.chain, KEXEC_KHO_FINALIZE)
    return notifier_to_errno(ret)


async def kho_finalize(kho: KhoV5) -> int:
    fdt_max = await load(kho.fdt_max)
    fdt = await kvmalloc(kho.heap, fdt_max, "kho_finalize")
    if not fdt:
        return -ENOMEM
    err = await _finalize_chain(kho)
    if not err:
        await _set_frozen(kho, fdt)
        err = await _serialize_and_convert(kho, fdt, fdt_max)
    if err:
        await kho_unfreeze(kho)        # its own error is only printed (pr_err) in v5
        return err
    return 0


# -- debugfs (patch 07) ---------------------------------------------------------------------------

DENTRY_SIZE = 192                     # the blob's dentry + inode, one slab object here


async def debugfs_create_blob(kho: KhoV5, name: str) -> int:
    """The dentry of ``out/<name>``, or ERR_PTR(-ENOMEM) when its allocation fails."""
    dentry = await kzalloc(kho.heap, DENTRY_SIZE, "debugfs_create_blob")
    return dentry if dentry else -ENOMEM


async def debugfs_remove(kho: KhoV5, dentry: int) -> None:
    """Frees the dentry; a no-op on NULL or an ERR_PTR (IS_ERR_OR_NULL)."""
    if dentry > 0:
        await kfree(kho.heap, dentry, "debugfs_remove")


async def kho_out_update_debugfs_fdt(kho: KhoV5) -> int:
    """Patch 07: create ``out/fdt`` for a frozen tree (-ENOENT if that fails), else remove
    ``kho_out.fdt_file`` - which is NOT reset to NULL after the removal, so a later call with
    no FDT removes the same, already freed dentry again.

    One step (Reduction): both callers hold the kexec lock, and kho_out.fdt and
    kho_out.fdt_file are written only by kexec-lock holders (finalize and unfreeze run only
    under it); the dentry is a fresh object of the caller's own pages."""
    return await atomic(_update_debugfs_fdt)(kho)


async def _update_debugfs_fdt(kho: KhoV5) -> int:
    err = 0
    fdt = await load(kho.fdt)
    if fdt:
        dentry = await debugfs_create_blob(kho, "fdt")
        await store(kho.fdt_file, dentry)
        if dentry < 0:
            err = -ENOENT
    else:
        dentry = await load(kho.fdt_file)
        await debugfs_remove(kho, dentry)
    return err


async def kho_out_finalize_set(kho: KhoV5, val: int) -> int:
    """``echo val > /sys/kernel/debug/kho/out/finalize``: after a successful finalize or
    unfreeze the debugfs blob decides the return code (finalized, yet -ENOENT)."""
    taken, fdt = await kexec_trylock_and_load(kho.kexec_lock, kho.fdt)
    if not taken:
        return -EBUSY
    if bool(val) == bool(fdt):
        ret = -EEXIST if fdt else -ENOENT
    else:
        if val:
            ret = await kho_finalize(kho)
        else:
            ret = await kho_unfreeze(kho)
        if not ret:
            ret = await kho_out_update_debugfs_fdt(kho)
    await kexec_unlock(kho.kexec_lock)
    return ret


async def kho_out_fdt_max_set(kho: KhoV5, val: int) -> int:
    """``echo val > /sys/kernel/debug/kho/out/fdt_max``: -EBUSY once frozen (one step)."""
    return await atomic(_fdt_max_set)(kho, val)


async def _fdt_max_set(kho: KhoV5, val: int) -> int:
    if not await kexec_trylock(kho.kexec_lock):
        return -EBUSY
    if await load(kho.fdt):
        ret = -EBUSY
    else:
        await store(kho.fdt_max, val)
        ret = 0
    await kexec_unlock(kho.kexec_lock)
    return ret


# -- kexec (patch 10) -----------------------------------------------------------------------------

KERNEL_IMAGE_SIZE = 1 << 16


async def kexec_file_load(kho: KhoV5) -> int:
    """kexec_file_load(2) with kho_fill_kimage: the kernel, an empty fdt_max segment, scratch.
    One step: under the kexec lock it touches only fdt_max and the image."""
    return await atomic(_kexec_file_load)(kho)


SZ_64K = 0x10000
KEXEC_TYPE_DEFAULT, KEXEC_TYPE_CRASH = 0, 1
SCRATCH_DEFAULT = ((kexec.SCRATCH_BASE, 1 << 20),)   # kho_scratch[]: (addr, size), set at boot
SIZEOF_KHO_SCRATCH = 16                              # struct kho_scratch { addr; size; }


def locate_mem_hole_callback(image: Kimage, start: int, end: int, memsz: int,
                             align: int) -> int | None:
    """kexec_file.c's top-down hole search in [start, end]: the highest *align*-aligned
    address where *memsz* bytes fit without overlapping a segment already placed (None if
    there is none; the kernel's callback then returns 0 and the walk goes on)."""
    cand = ((end + 1 - memsz) // align) * align
    while cand >= start:
        if all(cand + memsz <= seg.mem or seg.mem + seg.memsz <= cand for seg in image.segments):
            return cand
        cand -= align
    return None


def kho_walk_scratch(kho: KhoV5, image: Kimage, memsz: int, align: int) -> int | None:
    """Patch 10: try each kho_scratch[] area in turn; the first hole found wins."""
    i = 0
    while i < len(kho.scratch):
        addr, size = kho.scratch[i]
        mem = locate_mem_hole_callback(image, addr, addr + size - 1, memsz, align)
        if mem is not None:
            return mem
        i += 1
    return None


def kho_locate_mem_hole(kho: KhoV5, image: Kimage, image_type: int, memsz: int,
                        align: int):
    """Patch 10: 1 (not KHO's business) for a crash kernel or without kho_enable; else the
    address found in scratch, or -EADDRNOTAVAIL - no segment may land outside scratch."""
    if not kho_enable or image_type == KEXEC_TYPE_CRASH:
        return 1
    mem = kho_walk_scratch(kho, image, memsz, align)
    return mem if mem is not None else -EADDRNOTAVAIL


def kexec_add_buffer(kho: KhoV5, image: Kimage, role: str, bufsz: int, memsz: int,
                     data: bytes = b"", align: int = SZ_64K):
    """kexec_add_buffer (kernel/kexec_file.c): memsz page-aligned, kexec_locate_mem_hole -
    which with KHO is kho_locate_mem_hole - then the new segment; (image, 0) or (image, err).
    Only KEXEC_TYPE_DEFAULT images are loaded here, so the answer is never 1."""
    memsz = page_align(memsz)
    mem = kho_locate_mem_hole(kho, image, KEXEC_TYPE_DEFAULT, memsz, align)
    if mem < 0:
        return image, mem
    seg = Segment(role, mem, memsz, data[:bufsz])
    return image._replace(segments=image.segments + (seg,)), 0


async def _kexec_file_load(kho: KhoV5) -> int:
    """kexec_file_load(2): kimage_file_prepare_segments loads the kernel (its segment goes
    through kexec_locate_mem_hole too), then kho_fill_kimage: an empty fdt_max segment
    (image->kho.fdt), then the kho_scratch[] array (image->kho.scratch); any -EADDRNOTAVAIL
    fails the load and no image is installed."""
    if not await kexec_trylock(kho.kexec_lock):
        return -EBUSY
    fdt_max = await load(kho.fdt_max)
    image, err = kexec_add_buffer(kho, Kimage(True, ()), "kernel", 4, KERNEL_IMAGE_SIZE,
                                  b"\x7fELF")
    if not err:
        image, err = kho_fill_kimage(kho, image, fdt_max)
    if not err:
        await store(kho.image, image)
    await kexec_unlock(kho.kexec_lock)
    return err


def kho_fill_kimage(kho: KhoV5, image: Kimage, fdt_max: int):
    """Patch 10 (pure: it only builds the image): (image, 0) or (image, err)."""
    if not kho_enable:
        return image, 0
    image, err = kexec_add_buffer(kho, image, "kho-fdt", 0, fdt_max)
    if err:
        return image, err                  # "failed to reserved a segment for KHO FDT"
    scratch_size = SIZEOF_KHO_SCRATCH * len(kho.scratch)
    blob = b"".join(a.to_bytes(8, "little") + n.to_bytes(8, "little") for a, n in kho.scratch)
    return kexec_add_buffer(kho, image, "kho-scratch", scratch_size, scratch_size, blob)


def _copy_fdt(values, tid, heap, fdt, map_size):
    """memcpy(kimage_map_segment(fdt segment, map_size), kho_out.fdt, fdt_totalsize(fdt))."""
    image, pages, kasan, halted = values
    found, kasan = _check(heap, (pages, kasan, halted), tid, fdt, "Read", "kho_copy_fdt")
    data = found[1].data if found is not None and isinstance(found[1].data, bytes) else b""
    total = int.from_bytes(data[4:8], "big")
    blob = data[:total]
    seg = image.segment("kho-fdt")
    if total > seg.memsz and kasan is None:
        kasan = KasanReport(
            "slab-out-of-bounds", seg.mem + seg.memsz,
            f"Write of size {total} in kho_copy_fdt by task {heap.task_name(tid)} "
            f"(mapping {map_size} bytes)",
            f"the kho-fdt ksegment of {seg.memsz} bytes reserved at kexec_file_load", "")
    segs = tuple(s._replace(data=blob) if s.role == "kho-fdt" else s for s in image.segments)
    return (image._replace(segments=segs), pages, kasan, halted), None


async def kho_copy_fdt(kho: KhoV5, image: Kimage) -> int:
    if not image.file_mode:
        return 0
    frozen = await load(kho.fdt)
    if not frozen:
        err = await kho_finalize(kho)
        await kho_out_update_debugfs_fdt(kho)      # its result is ignored, even on error
        if err:
            return err
    fdt = await load(kho.fdt)
    fdt_max = await load(kho.fdt_max)
    heap = kho.heap
    if not await may_allocate(heap, "kimage_map_segment"):
        return -ENOMEM                             # "failed to vmap fdt ksegment in kimage"
    await Op((kho.image, heap.pages, heap.kasan, heap.halted), _copy_fdt, heap, fdt,
             page_align(fdt_max), text="memcpy(ksegment, kho_out.fdt, fdt_totalsize)")
    return 0


def _machine_kexec(values, tid):
    image, pages, ghost, tree, first, _, _ = values
    return (image, pages, ghost, tree, first, True,
            Handover(image, pages, ghost, tree, first)), None


async def kernel_kexec(kho: KhoV5) -> int:
    """reboot(LINUX_REBOOT_CMD_KEXEC) with patch 10's ``kho_copy_fdt(kexec_image)`` before
    machine_kexec; on success the old kernel stops (``halted``)."""
    return await kexec.kernel_kexec(
        kho, (kho.image, kho.heap.pages, kho.ghost, kho.tree, kho.first_chunk_phys,
              kho.heap.halted, kho.handover), _machine_kexec, kho_copy_fdt)


def segment_blob(image: Kimage) -> bytes:
    seg: Segment | None = image.segment("kho-fdt")
    return seg.data if seg is not None else b""


def live_at(pages: tuple, pfn: int) -> bool:
    found = lookup(pages, pfn << PAGE_SHIFT)
    return found is not None and found[1].live


__all__ = [n for n in dir() if n.startswith("kho_") or n in (
    "KhoV5", "Node", "Ghost", "Handover", "initial_tree", "static", "string", "mem",
    "register_kho_notifier", "unregister_kho_notifier", "kexec_file_load", "kernel_kexec",
    "MUTANTS", "ROOT", "KEXEC_KHO_FINALIZE", "KEXEC_KHO_UNFREEZE")]
