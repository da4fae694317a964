"""KHO's promises on the 6.16 / 6.17 / 6.18 models, named as on v5 so the review matrix lines up.

Each property looks only at the :class:`khomc.kho.k6_16.kexec_handover.Handover` taken at
machine_kexec (and the KASAN slot).  The next kernel is the era's own (``k.kho_populate``,
``k.kho_memory_init``, ``k.kho_restore_folio`` of the linked era *k*, so a delta to the next
kernel is seen); the drivers' own next-kernel code (lib/test_kho.c, the notifier FDBox) runs on
it as pure functions sharing one restore state (``page->private`` of every page), so a page
restored twice is seen.  What the clients preserved is judged from the clients' own calls and
return codes (``ghost.promised``, written by the clients), never from KHO's bookkeeping.
Promises: ../shared/reference/kho-semantics.md §6 (I1, I2, I4, I5).
"""

from __future__ import annotations

import functools

from khomc.drivers import fdbox_notifier
from khomc.kho.fdt import canonical, unflatten
from khomc.kho.k6_16.kexec_handover import K616, root_fdt, tracker_bits
from khomc.kho.v5.kexec_handover import live_at
from khomc.promises.v5 import CONVERSION, DOCS as V5_DOCS, FINALIZE_OK, KEXEC_REACHED, MEMORY_SAFETY, NO_PAGE_LOST, REVIVED
from khomc.kernel.alloc import PAGE_SHIFT, PAGE_SIZE, read_phys

RESTORE_ONCE = "restore-at-most-once"
HANDOVER_LIVE = "handed-over-metadata-live"
RESTORE_EXACT = "restore-returns-preserved"
FROZEN = "tracker-frozen-after-finalize"
NO_SCRATCH = "nothing-preserved-in-scratch"
TEST_KHO_OK = "kho-restore-succeeded"

DOCS = {
    CONVERSION:
        "The handover is race-free: the root FDT the image points at is the finished kho-v1 "
        "FDT of the finalize in effect at kexec (not aborted since), with exactly the subtrees "
        "its FINALIZE callbacks added and its chunk list.  A failure means kexec handed over "
        "an FDT that no successful finalize produced (a stale one after abort, or a page that "
        "is not an FDT at all).",
    NO_PAGE_LOST: V5_DOCS[NO_PAGE_LOST] + "  Here: every page a client preserved (returned 0) "
        "is reserved, nothing but the chunk pages and the root FDT page is reserved besides, "
        "and every FDBox record restores with its bytes (test_kho's own verdict is the "
        "kho-restore-succeeded guard).",
    MEMORY_SAFETY: V5_DOCS[MEMORY_SAFETY],
    RESTORE_ONCE:
        "Each preserved page is restored at most once in the next kernel: across KHO's own "
        "restore of its root FDT and all drivers' restores, kho_restore_folio never returns the "
        "same page twice (I5).",
    HANDOVER_LIVE:
        "Nothing KHO hands over and the next kernel reads was freed before the handover point: "
        "every page of KHO metadata the next kernel reads (the root FDT page, each chunk of "
        "the preserved-memory-map, each bitmap a chunk points at) is a live allocation at "
        "machine_kexec.  A failure means the next kernel parsed freed memory, whose bytes a "
        "running kernel may already have reused.",
    RESTORE_EXACT:
        "Restore returns exactly what was preserved: every page a restore call in the next "
        "kernel returns (kho_restore_folio, kho_restore_pages, KHO's own restore of its root "
        "FDT excepted) is a page a client preserved (its call returned 0) and the next kernel "
        "reserved; and a client whose preserve call returned 0 gets back, from its own restore "
        "call, exactly that: kho_restore_folio a folio of the preserved order with the "
        "preserved bytes, kho_restore_pages the range (6.18) with its bytes, "
        "kho_restore_vmalloc the same pages in the same order with their bytes.  A failure means a restore handed a driver memory nobody "
        "preserved - a page the next kernel treats as free - or the preserved folio came back "
        "of another order or with other bytes (here: overwritten at machine_kexec by a kexec "
        "segment that kho_locate_mem_hole placed on it in scratch).",
    FROZEN:
        "The tracker is frozen between finalize and kexec, as 6.16-6.18 promise (a preserve "
        "after finalization returns -EBUSY): in every state from the one where "
        "kho_out.finalized was set until machine_kexec, in which no finalize or abort holds "
        "kho_out.lock (an abort empties the tracker under the lock before it clears the flag), "
        "the tracker's set bits are exactly those it had when finalized was set.  A failure means a preserve changed "
        "the tracker after the finalize that serialized it.",
    NO_SCRATCH:
        "No KHO metadata or preserved page is in a scratch area: at machine_kexec, no page the "
        "next kernel reserves and no page of KHO metadata it reads lies in kho_scratch[] - the "
        "next kernel allocates its early memory there before it has deserialized anything.",
    KEXEC_REACHED: "Vacuity guard: some run reaches machine_kexec.",
    FINALIZE_OK: "Vacuity guard: some run has a debugfs finalize return 0.",
    REVIVED: V5_DOCS[REVIVED],
    TEST_KHO_OK: "Vacuity guard / the kernel selftest's pass line: some run's next kernel "
                 "prints \"KHO restore succeeded\" from test_kho.",
}


class Watch:
    """Which drivers' slots a scenario snapshots at kexec, how to read them back, and the
    linked era *k* whose next kernel reads the handover."""

    def __init__(self, k, kho: K616, boxes: tuple = (), test_kho: bool = False,
                 folios: tuple = ()):
        self.k = k
        self.kho = kho
        self.boxes = boxes            # ((name, state var), ...)
        self.test_kho = test_kho
        # ((name, record var), ...): a client's record of its own preserve call as it saw it
        # (None before the call returned): ("folio", (phys, order), bytes, ret),
        # ("pages", (phys, nr), bytes, ret) or ("vmalloc", (struct kho_vmalloc, pages),
        # (bytes of each page, ...), ret); see :func:`client_restores`
        self.folios = folios
        for _, var in boxes + folios:
            kho.watched.append(var)


@functools.lru_cache(maxsize=8192)
def _boot(k, h):
    return k.boot(h)


@functools.lru_cache(maxsize=8192)
def next_kernel(h, watch: Watch):
    """(next kernel, test_kho's message or None, every box ok, every restore that returned
    memory: ((call, pfn, order), ...) in call order)."""
    k = watch.k
    nk = _boot(k, h)
    r = k.kho_memory_init(nk, len(h.pages))
    boxes_ok = True
    for i, (name, _) in enumerate(watch.boxes):
        _, fds = h.watched[i]
        ok, r = fdbox_notifier.restore(k, nk, name, h.pages, r, fds)
        boxes_ok = boxes_ok and ok
    folios_ok = True
    for i, _ in enumerate(watch.folios):
        ok, r = client_restores(k, h.pages, r, h.watched[len(watch.boxes) + i])
        folios_ok = folios_ok and ok
    tk = None
    if watch.test_kho:
        res = k.kho_test_restore(nk, h.pages, r)
        tk, r = res.message, res.restorer
    return nk, tk, boxes_ok and folios_ok, r.restored, folios_ok


def client_restores(k, pages: tuple, r, rec):
    """(ok, restorer): a client's own next-kernel half, from its record of the preserve call.
    A call that did not return 0 (or had not returned at kexec) expects nothing.  Otherwise
    the client calls the era's restore for what it preserved and checks what comes back:

    * folio - ``kho_restore_folio(phys)`` returns a folio of the preserved order, holding the
      preserved bytes;
    * pages - ``kho_restore_pages(phys, nr)`` returns the first page (6.18: 8375b76517cb) and
      the range holds the preserved bytes; before it (kho_preserve_phys) there is no restore
      call: the user reads the range where it left it;
    * vmalloc - ``kho_restore_vmalloc(preservation)`` returns the same pages in the same
      order, each holding its preserved bytes.

    The record stands for however the client hands its own metadata over (a subtree of its
    own in the kernel's users): only what the restore returns is judged here."""
    if rec is None or rec[-1] != 0:
        return True, r
    kind, args, data, _ = rec
    if kind == "folio":
        phys, order = args
        got, r = k.kho_restore_folio(r, phys)
        return got == order and read_phys(pages, phys, len(data)) == data, r
    if kind == "pages":
        phys, nr = args
        if hasattr(k, "kho_restore_pages"):
            got, r = k.kho_restore_pages(r, phys, nr)
            if got is None:
                return False, r
        return read_phys(pages, phys, len(data)) == data, r
    if kind == "vmalloc":
        preservation, area = args
        got, r = k.kho_restore_vmalloc(r, preservation, pages)
        if got != area:
            return False, r
        return all(read_phys(pages, p, len(d)) == d for p, d in zip(area, data)), r
    raise AssertionError(f"unknown client record {kind!r}")


def _handover_ok(h) -> bool:
    final = h.ghost.final
    fdt = h.image.kho_fdt
    if fdt is None:
        return True                       # no KHO handed over at all (6.18 when not finalized)
    parsed = unflatten(read_phys(h.pages, fdt, PAGE_SIZE))
    if final is None:
        return parsed.tree is None        # no finalize in effect: no FDT may look valid
    return parsed.tree is not None and \
        canonical(parsed.tree) == canonical(root_fdt(final[0], final[1]))


def register(m, kho: K616, watch: Watch, guards: tuple = (KEXEC_REACHED, FINALIZE_OK)):
    k = watch.k

    def conversion(s):
        h = s[kho.handover]
        return h is None or _handover_ok(h)

    def no_page_lost(s):
        h = s[kho.handover]
        if h is None:
            return True
        nk, _, boxes_ok, _, _ = next_kernel(h, watch)
        promised = h.ghost.promised
        if not nk.revived or nk.fault:
            return not promised and boxes_ok
        if not promised <= nk.reserved:
            return False
        if nk.reserved - promised - h.ghost.asked - nk.metadata:
            return False
        return boxes_ok

    def memory_safety(s):
        if s[kho.heap.kasan] is not None:
            return False
        h = s[kho.handover]
        return h is None or all(live_at(h.pages, pfn) for pfn in h.ghost.promised)

    def restore_once(s):
        h = s[kho.handover]
        if h is None:
            return True
        pfns = [pfn for _, pfn, _ in next_kernel(h, watch)[3]]
        return len(pfns) == len(set(pfns))

    def handover_live(s):
        h = s[kho.handover]
        if h is None:
            return True
        nk = _boot(k, h)
        return not nk.revived or all(live_at(h.pages, pfn) for pfn in nk.read)

    def restore_exact(s):
        h = s[kho.handover]
        if h is None:
            return True
        nk, _, _, restored, folios_ok = next_kernel(h, watch)
        if not folios_ok:
            return False
        ok = h.ghost.promised & nk.reserved
        for call, pfn, order in restored:
            if nk.revived and pfn == nk.fdt_phys >> PAGE_SHIFT and call == "kho_restore_folio" \
                    and restored.index((call, pfn, order)) == 0:
                continue                 # kho_memory_init's restore of the root FDT page
            if not frozenset(range(pfn, pfn + (1 << order))) <= ok:
                return False
        return True

    def frozen(s):
        g = s[kho.ghost]
        if g.tracker is None or not s[kho.finalized] or s[kho.heap.halted] or \
                s[kho.lock.var] is not None:
            return True
        return tracker_bits(s[kho.heap.pages], s[kho.orders.var], k.PRESERVE_BITS) == g.tracker

    scratch = frozenset(pfn for addr, size in kho.scratch
                        for pfn in range(addr >> PAGE_SHIFT, (addr + size) >> PAGE_SHIFT))

    def no_scratch(s):
        h = s[kho.handover]
        if h is None or not scratch:
            return True
        nk = _boot(k, h)
        return not nk.revived or not ((nk.reserved | nk.read) & scratch)

    m.always(CONVERSION, conversion, DOCS[CONVERSION])
    m.always(NO_SCRATCH, no_scratch, DOCS[NO_SCRATCH])
    m.always(FROZEN, frozen, DOCS[FROZEN])
    m.always(HANDOVER_LIVE, handover_live, DOCS[HANDOVER_LIVE])
    m.always(RESTORE_EXACT, restore_exact, DOCS[RESTORE_EXACT])
    m.always(NO_PAGE_LOST, no_page_lost, DOCS[NO_PAGE_LOST])
    m.always(MEMORY_SAFETY, memory_safety, DOCS[MEMORY_SAFETY])
    m.always(RESTORE_ONCE, restore_once, DOCS[RESTORE_ONCE])
    checks = {
        KEXEC_REACHED: lambda s: s[kho.handover] is not None,
        FINALIZE_OK: lambda s: s[kho.finalized] and s[kho.lock.var] is None,
        REVIVED: lambda s: s[kho.handover] is not None and _boot(k, s[kho.handover]).revived,
        TEST_KHO_OK: lambda s: s[kho.handover] is not None and
        next_kernel(s[kho.handover], watch)[1] == SUCCEEDED,
    }
    for g in guards:
        m.sometimes(g, checks[g], DOCS[g])


SUCCEEDED = "KHO restore succeeded"
RETRY = "finalize-retry-works"
RETRY_DOC = (
    "A finalize that failed only because an allocation failed can be retried: when the first "
    "``echo 1 > finalize`` returned an error and no allocation failure is left for the retry "
    "(the scenario allows one), the retry returns 0.  A failure means the failed finalize left "
    "state behind (here: debugfs entries on kho_out.ser.fdt_list) that makes every later "
    "finalize fail.")


def register_retry(m, kho: K616, results) -> None:
    def retry_works(s):
        res = s[results]
        if len(res) < 2 or res[0][1] == 0:
            return True
        return s[kho.heap.budget] != 0 or res[1][1] == 0

    m.always(RETRY, retry_works, RETRY_DOC)
