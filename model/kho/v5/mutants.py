"""Mutants of KHO v5: each one breaks one rule of the posted code, as a Delta on the ledger.

A mutant is not a commit and was never posted: no mail of the v5 thread proposes any of these
changes.  Each exists so that the test suite can show a promise failing
(properties/kho_v5/test_mutants.py).  Each is a code change, so it is written the way the
ledger writes a code change - a :class:`khomc.kho.ledger.Delta` (commit ``mutant:<name>``)
whose functions replace v5's, linked into an era on top of the scenario's - instead of a flag
tested inside kernel functions.  ``khomc.kho.v5.kexec_handover.MUTANTS`` keeps the names (the
``mutants=`` parameter); two of them stay flags, because they change no kernel function:

* ``scratch-overlaps-memory`` - a boot configuration (where kho_reserve_scratch put
  kho_scratch[]), a value the machine is built with (:class:`KhoV5`'s ``scratch``);
* ``fdbox-retries-ebusy`` - a driver's behaviour (model/drivers/fdbox.py), not KHO code.

Each function below is v5's (kexec_handover.py) with the one rule broken, named in its
Delta's subject.
"""

from __future__ import annotations

from khomc.kernel.alloc import kvfree, kvmalloc, may_allocate
from khomc.kernel.errno import ENOMEM
from khomc.kernel.locking import down_read, down_write, up_write
from khomc.kernel.notifier import blocking_notifier_call_chain, notifier_to_errno
from khomc.kho.ledger import Delta, Era
from khomc.runtime.effects import Op, atomic, load

M_ADD = Delta("mutant:add-skips-freeze-check",
              "the tree mutators ignore kho_out.fdt (no -EBUSY once frozen)",
              note="a mutant, not a posted patch")
M_SERIALIZE = Delta("mutant:serialize-before-freeze",
                    "kho_finalize serializes the map and converts the tree before it freezes",
                    note="a mutant, not a posted patch")
M_PRESERVE = Delta("mutant:preserve-skips-freeze-check",
                   "kho_preserve_folio/phys ignore kho_out.fdt", note="a mutant, not a posted patch")
M_UNFREEZE = Delta("mutant:unfreeze-keeps-chunk-pointer",
                   "kho_unfreeze frees the chunk list but leaves kho_out.first_chunk_phys "
                   "pointing at it", note="a mutant, not a posted patch")
M_CHAIN = Delta("mutant:chain-under-tree-lock",
                "kho_finalize runs the FINALIZE chain holding tree_lock for write",
                note="a mutant, not a posted patch")
M_COPY = Delta("mutant:copy-skips-autofinalize",
               "kho_copy_fdt does not finalize an unfrozen KHO: it copies from kho_out.fdt == NULL",
               note="a mutant, not a posted patch")


@M_ADD.replaces
async def _mutate(kho, parent: str, fn, args: tuple, text: str):
    effect = Op(_tree_vars(kho), fn, *args, True, text=text)      # skip the freeze check
    return await atomic(_tree_section)(kho, parent, effect)


@M_PRESERVE.replaces
async def _down_read_frozen(kho) -> int:
    await down_read(kho.tree_lock)
    return 0                                                      # never "frozen"


@M_UNFREEZE.replaces
async def kho_unfreeze(kho) -> int:
    fdt = await atomic(_write_section)(kho, Op((kho.fdt,), _take_fdt,
                                               text="fdt = kho_out.fdt; kho_out.fdt = NULL"))
    if fdt:
        await kvfree(kho.heap, fdt, "kho_unfreeze")
    first = await load(kho.first_chunk_phys)
    if first:
        await kho_mem_ser_free(kho, first)                        # first_chunk_phys kept
    ret = await blocking_notifier_call_chain(kho.chain, KEXEC_KHO_UNFREEZE)
    err = notifier_to_errno(ret)
    return notifier_to_errno(err)


@M_CHAIN.replaces
async def _finalize_chain(kho) -> int:
    await down_write(kho.tree_lock)
    ret = await blocking_notifier_call_chain(kho.chain, KEXEC_KHO_FINALIZE)
    await up_write(kho.tree_lock)
    return notifier_to_errno(ret)


@M_SERIALIZE.replaces
async def kho_finalize(kho) -> int:
    fdt_max = await load(kho.fdt_max)
    fdt = await kvmalloc(kho.heap, fdt_max, "kho_finalize")
    if not fdt:
        return -ENOMEM
    err = await _finalize_chain(kho)
    if not err:
        err = await _serialize_and_convert(kho, fdt, fdt_max)      # before the freeze
        await _set_frozen(kho, fdt)
    if err:
        await kho_unfreeze(kho)
        return err
    return 0


@M_COPY.replaces
async def kho_copy_fdt(kho, image) -> int:
    if not image.file_mode:
        return 0
    fdt = await load(kho.fdt)                                      # no auto-finalize
    fdt_max = await load(kho.fdt_max)
    heap = kho.heap
    if not await may_allocate(heap, "kimage_map_segment"):
        return -ENOMEM
    await Op((kho.image, heap.pages, heap.kasan, heap.halted), _copy_fdt, heap, fdt,
             page_align(fdt_max), text="memcpy(ksegment, kho_out.fdt, fdt_totalsize)")
    return 0


DELTAS = {"add-skips-freeze-check": M_ADD, "serialize-before-freeze": M_SERIALIZE,
          "preserve-skips-freeze-check": M_PRESERVE, "unfreeze-keeps-chunk-pointer": M_UNFREEZE,
          "chain-under-tree-lock": M_CHAIN, "copy-skips-autofinalize": M_COPY}
FLAGS = frozenset({"scratch-overlaps-memory", "fdbox-retries-ebusy"})
_ERAS: dict = {}


def with_mutants(kernel, names: frozenset):
    """*kernel* (a linked era) with the code mutants among *names* applied, as an era on top
    of *kernel*'s; *kernel* itself when there are none.  A mutant applies only where the
    function it replaces is still v5's own (the proposals replace some of them)."""
    chosen = tuple(DELTAS[n] for n in sorted(names) if n in DELTAS)
    if not chosen:
        return kernel
    from khomc.kho.v5 import kexec_handover as v5
    for d in chosen:
        for fname in d.functions:
            own = getattr(v5, fname).__code__
            if getattr(kernel, fname).__code__.co_filename != own.co_filename:
                raise ValueError(f"mutant {d.commit[7:]} replaces v5's {fname}, which era "
                                 f"{kernel.ERA.name} has replaced")
    key = (kernel.ERA.name, len(kernel.APPLIED), chosen)
    if key not in _ERAS:
        _ERAS[key] = Era(f"{kernel.ERA.name}+" + "+".join(d.commit[7:] for d in chosen),
                         base=kernel.ERA, deltas=chosen,
                         doc="mutants: " + ", ".join(d.subject for d in chosen))
    return _ERAS[key].namespace()


from khomc.kernel.kexec import page_align  # noqa: E402
from khomc.kho.v5.kexec_handover import KEXEC_KHO_FINALIZE, KEXEC_KHO_UNFREEZE, _copy_fdt, _serialize_and_convert, _set_frozen, _take_fdt, _tree_section, _tree_vars, _write_section, kho_mem_ser_free  # noqa: E402,F401
