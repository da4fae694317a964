"""KHO's promises on the LUO-era designs (6.19, 7.1), named as on v5 so the matrix lines up.

Owns the property functions of :mod:`khomc.scenarios.luo`.  Each looks only at the
:class:`khomc.kho.k6_19.kexec_handover.Handover` snapshot taken at machine_kexec and at the next kernel the
era's ``boot`` builds from it.  The promises are those of v5 (:mod:`khomc.promises.v5`),
restated for an API whose users own their FDTs (../shared/reference/kho-semantics.md §6 I1, I2,
I5, I7):

* ``conversion-race-free`` - the handed-over root FDT holds exactly the subtrees whose
  kho_add_subtree returned 0 and that were not removed, each with its address;
* ``no-preserved-page-lost`` - the reserved set of the next kernel is the set of pages whose
  preserve returned 0 and were not unpreserved, plus nothing but KHO metadata; every driver's
  next-kernel restore finds its data, each page restored at most once;
* ``memory-safety`` - no KASAN report, no preserved page freed before kexec, and nothing the next
  kernel reads before it reserves memory (the chunk list or the radix tree's nodes, and each
  subtree's FDT page) was freed before kexec;
* ``handed-over-metadata-live`` (named as in :mod:`khomc.promises.k6_16`) - the root FDT page,
  the preserved-memory map and every subtree FDT the next kernel reads are live at
  machine_kexec.  It is the KHO-metadata half of memory-safety on its own, so a failure names
  the cause (metadata, not a client's page or a KASAN report).  All three eras: their
  handover point is machine_kexec (the root FDT is edited in place and image->kho.fdt names
  it whatever the state, d7255959b69a; 6.19 re-publishes the map at every finalize up to the
  reboot's, 9a4301f715c8; 7.1 hands over the live radix tree), so "changed after the
  handover point" adds nothing to "freed before machine_kexec".

The other KHO-level promises of the classic eras (:mod:`khomc.promises.k6_16`), decided per era:

* ``tracker-frozen-after-finalize`` - none of these eras promises it: 6.19's preserve no longer
  checks ``finalized`` (de51999e687c) and 7.1 has no finalize at all.
* ``nothing-preserved-in-scratch`` - not registered: it would hold by construction.  kho_scratch[]
  (model/kho/k6_19/kexec_handover.py) lies above every numbered page and the model's allocator
  never hands out scratch memory, so no preserved page, no metadata and - the kexec segments
  being placed in scratch by kho_locate_mem_hole - no segment can meet preserved memory; no
  mutant of the scenario files can change that.  Judging it honestly needs movable (CMA)
  allocations in scratch, which a kernel without CONFIG_KEXEC_HANDOVER_DEBUG does not refuse
  (kernel/liveupdate/kexec_handover_internal.h: kho_scratch_overlap is false there), as the
  6.16 scratch-preserve scenario has.
* ``image->kho.fdt`` names a valid FDT - judged at machine_kexec inside conversion-race-free
  (a root page that does not parse fails it); not at every state where the image is loaded.
* nothing reserved that the clients did not preserve - no-preserved-page-lost's second half,
  judged from the ghost (what KHO accepted), not from the clients' records: those record only
  a returned 0, not a call in flight at kexec, and a record entry before each call would add
  states to every scenario.  Where a scenario's client records its failures
  (vmalloc-huge-unwind), ``failed-preserve-undone`` judges that half from the client: the pages
  of a call that returned an error must not be reserved (there it agrees with the ghost's
  judgement; it names the client's call instead of a PFN nobody accounted for).
"""

from __future__ import annotations

import functools

from khomc.drivers import fdbox_luo
from khomc.drivers.fdbox import contents
from khomc.kho import rootfdt
from khomc.kho.fdt import prop, unflatten
from khomc.kernel.alloc import PAGE_SHIFT, PAGE_SIZE, read_phys
from khomc.kho.v5.kexec_handover import live_at
from khomc.promises.v5 import CONVERSION, FINALIZE_OK, KEXEC_REACHED, MEMORY_SAFETY, NO_PAGE_LOST, REVIVED

RESTORE_OK = "kho-restore-succeeded"
HANDOVER_LIVE = "handed-over-metadata-live"          # named as in khomc.promises.k6_16
SUCCESS_RESTORABLE = "preserve-success-restorable"
FAILED_UNDONE = "failed-preserve-undone"          # named as v5's preserve-phys-unwind promise
BIG = "big"
BIG_BYTES = 5000

DOCS = {
    CONVERSION:
        "The handover is race-free: the root FDT at kexec holds exactly the subtrees whose "
        "kho_add_subtree returned 0 and were not removed, with their addresses.  A failure means "
        "an add that succeeded is missing, or a subtree the caller was told failed (or removed) "
        "is still handed over.",
    NO_PAGE_LOST:
        "No preserved page is lost: every page whose preserve returned 0 and was not "
        "unpreserved before kexec is reserved by the next kernel; nothing else is reserved but "
        "KHO's metadata; each driver's next-kernel restore (FDBox records, lib/test_kho.c's "
        "checksum, a big subtree's bytes) finds its data, each page restored at most once.",
    MEMORY_SAFETY:
        "Memory safety: no KASAN report, no preserved page freed before kexec, and every page the "
        "next kernel reads before reserving memory - the preserved-memory map (chunk list or "
        "radix-tree nodes) and each subtree's FDT - still allocated at kexec.",
    FAILED_UNDONE:
        "A preserve call that returned an error leaves nothing of it preserved: no page the "
        "client passed to a failed kho_preserve_vmalloc is reserved by the next kernel, judged "
        "from the client's own record of the call and its return code (not from KHO's "
        "bookkeeping, which agrees with what it reserves).  A failure means memory the client "
        "was told is not preserved - and may free or reuse - is handed over and reserved "
        "anyway, or, had it been freed and reused, another user's data is.",
    SUCCESS_RESTORABLE:
        "A success return means preserved and restorable, judged from the client's own record "
        "of its calls: every range whose kho_preserve_pages returned 0 before machine_kexec, and "
        "that the client had not begun to unpreserve, is restored by kho_restore_pages in the "
        "next kernel (every head page in it carries the KHO magic).",
    HANDOVER_LIVE:
        "Nothing KHO hands over and the next kernel reads was freed before the handover point: "
        "the root FDT page image->kho.fdt names, every page of the preserved-memory map the next "
        "kernel walks (the chunk list in 6.19, the radix tree's nodes in 7.1 and mainline) and "
        "every subtree FDT page the root names is a live allocation at machine_kexec.  In these "
        "eras the handover point is machine_kexec itself: the root FDT is a preserved page "
        "edited in place and image->kho.fdt names it whatever the state (d7255959b69a); 6.19 "
        "re-publishes the map at every finalize up to the reboot's own (9a4301f715c8) and 7.1 "
        "hands over the live tree, so nothing may change or be freed after a finalize - only "
        "freed before machine_kexec, which this promise rules out.  A failure means the next "
        "kernel parsed freed memory that a running kernel may already have reused.",
    KEXEC_REACHED: "Vacuity guard: some run reaches machine_kexec.",
    FINALIZE_OK: "Vacuity guard: some run has kho_finalize return 0.",
    REVIVED: "Vacuity guard: some run has the next kernel accept the FDT and the memory map.",
    RESTORE_OK: "Vacuity guard and the selftest's pass line: some run has lib/test_kho.c print "
                "\"KHO restore succeeded\" in the next kernel.",
}


@functools.lru_cache(maxsize=4096)
def next_kernel(kho, h):
    return kho.boot(h)


def _retrieve(kho):
    def retrieve(nk, name):
        return kho.retrieve_subtree(nk, name)
    return retrieve


def test_kho_message(kho, h):
    """What lib/test_kho.c prints in the next kernel (None: a cold boot, nothing to check)."""
    nk = next_kernel(kho, h)
    return kho.k.kho_test_restore(nk, h.pages, set(), _retrieve(kho), kho.restore_folio)


def _big_ok(kho, nk, pages, restored) -> bool:
    from khomc.kernel.alloc import PAGE_SIZE, read_phys
    phys = _retrieve(kho)(nk, BIG)
    if phys == -2:
        return True
    if phys < 0 or kho.restore_folio(nk, phys, restored) != 1:
        return False
    parsed = unflatten(read_phys(pages, phys, 2 * PAGE_SIZE))
    return parsed.tree is not None and prop(parsed.tree, "blob") == b"k" * BIG_BYTES


def handover_race_free(kho):
    def check(s) -> bool:
        h = s[kho.handover]
        if h is None:
            return True
        if not h.image.kho_fdt:           # KHO disabled: kho_fill_kimage handed nothing over
            return not h.ghost.subtrees
        blob = kho.root_blob(h)
        if unflatten(blob).tree is None:
            return False
        return tuple(sorted(rootfdt.subtrees(blob, kho.sub_prop))) == h.ghost.subtrees
    check.__doc__ = DOCS[CONVERSION]
    return check


def no_page_lost(kho, boxes: tuple = (), test: bool = False):
    def check(s) -> bool:
        h = s[kho.handover]
        if h is None:
            return True
        nk = next_kernel(kho, h)
        promised = h.ghost.promised
        if not nk.revived:
            return not promised
        if not promised <= nk.reserved or nk.reserved - promised - nk.metadata:
            return False
        restored: set = set()
        retrieve = _retrieve(kho)
        for box in boxes:
            got = fdbox_luo.restore(nk, box, h.pages, restored, retrieve,
                                    kho.restore_folio)
            if got is False:
                return False
            for r in got or ():
                if r.order != 0 or r.data != contents(box, int(r.key[2:])):
                    return False
        if test and kho.k.kho_test_restore(nk, h.pages, restored, retrieve,
                                           kho.restore_folio) == kho.k.KHO_TEST_FAILED:
            return False
        return _big_ok(kho, nk, h.pages, restored)
    check.__doc__ = DOCS[NO_PAGE_LOST]
    return check


def memory_safety(kho):
    def check(s) -> bool:
        if s[kho.heap.kasan] is not None:
            return False
        h = s[kho.handover]
        if h is None:
            return True
        if not all(live_at(h.pages, pfn) for pfn in h.ghost.promised):
            return False
        nk = next_kernel(kho, h)
        if not all(live_at(h.pages, pfn) for pfn in nk.metadata):
            return False
        subtrees = rootfdt.subtrees(kho.root_blob(h), kho.sub_prop) if h.image.kho_fdt else ()
        for _, phys in subtrees:
            if phys is not None and not live_at(h.pages, phys >> 12):
                return False          # (a node without an address is conversion's to judge)
        return True
    check.__doc__ = DOCS[MEMORY_SAFETY]
    return check


def handover_live(kho):
    def check(s) -> bool:
        h = s[kho.handover]
        if h is None or not h.image.kho_fdt:
            return True
        if not live_at(h.pages, h.image.kho_fdt >> PAGE_SHIFT):
            return False                  # boot parses the root page first
        nk = next_kernel(kho, h)
        if not nk.revived:
            return True                   # revival refused: nothing else is read
        if not all(live_at(h.pages, pfn) for pfn in nk.metadata):
            return False
        return all(phys is None or live_at(h.pages, phys >> PAGE_SHIFT)
                   for _, phys in rootfdt.subtrees(kho.root_blob(h), kho.sub_prop))
    check.__doc__ = DOCS[HANDOVER_LIVE]
    return check


def success_restorable(kho, client):
    def check(s) -> bool:
        h = s[kho.handover]
        if h is None:
            return True
        entries = s[client]
        dropped = {(p, n) for tag, p, n in entries if tag == "unpreserving"}
        ok = [(p, n) for tag, p, n in entries if tag == "ok" and (p, n) not in dropped]
        if not ok:
            return True
        nk = next_kernel(kho, h)
        if not nk.revived:
            return False
        restored: set = set()
        return all(kho.restore_pages(nk, p, n, restored) for p, n in ok)
    check.__doc__ = DOCS[SUCCESS_RESTORABLE]
    return check


def failed_preserve_undone(kho, client):
    def check(s) -> bool:
        h = s[kho.handover]
        if h is None:
            return True
        failed = [pfns for tag, pfns in s[client] if tag == "vmalloc-failed"]
        if not failed:
            return True
        nk = next_kernel(kho, h)
        return not nk.revived or not any(pfns & nk.reserved for pfns in failed)
    check.__doc__ = DOCS[FAILED_UNDONE]
    return check


def register(m, kho, boxes: tuple = (), test: bool = False, guards: tuple = (),
             clients=None, failed=None):
    m.always(CONVERSION, handover_race_free(kho), DOCS[CONVERSION])
    m.always(NO_PAGE_LOST, no_page_lost(kho, boxes, test), DOCS[NO_PAGE_LOST])
    m.always(MEMORY_SAFETY, memory_safety(kho), DOCS[MEMORY_SAFETY])
    m.always(HANDOVER_LIVE, handover_live(kho), DOCS[HANDOVER_LIVE])
    if clients is not None:
        m.always(SUCCESS_RESTORABLE, success_restorable(kho, clients), DOCS[SUCCESS_RESTORABLE])
    if failed is not None:
        m.always(FAILED_UNDONE, failed_preserve_undone(kho, failed), DOCS[FAILED_UNDONE])
    checks = {
        KEXEC_REACHED: lambda s: s[kho.handover] is not None,
        FINALIZE_OK: lambda s: kho.has_finalize and s[kho.finalized],
        REVIVED: lambda s: s[kho.handover] is not None and
        next_kernel(kho, s[kho.handover]).revived,
        RESTORE_OK: lambda s: s[kho.handover] is not None and
        test_kho_message(kho, s[kho.handover]) == kho.k.KHO_TEST_SUCCEEDED,
    }
    for g in guards:
        m.sometimes(g, checks[g], DOCS[g])


# -- LUO sessions and files (model/kho/k6_19/luo_*.py, the luo-session-race scenario) ---------------

LUO_RESTORABLE = "luo-preserved-restorable"
LUO_NOTHING_UNPRESERVED = "luo-nothing-unpreserved-handed-over"
LUO_FILE_OK = "luo-file-restored"
LUO_RESTORE_RETURNS = "luo-restore-returns-preserved"
LUO_FINISH_RECLAIMS = "luo-finish-reclaims-unretrieved"
LUO_SESSION = "s0"

DOCS[LUO_RESTORABLE] = (
    "A PRESERVE_FD that returned 0 is restorable, judged from the userspace task's own record "
    "(model/drivers/luo_userspace.py) before machine_kexec: if PRESERVE_FD on the memfd returned "
    "0 and the task had not begun to close the session, the next kernel's LUO subtree hands "
    "over the session with a memfd-v1 file of that token, and memfd_luo_retrieve restores every "
    "folio with the bytes the task wrote.")
DOCS[LUO_NOTHING_UNPRESERVED] = (
    "Nothing unpreserved is handed over: if the task's close of the session fd returned before "
    "machine_kexec, the next kernel is handed no such session; if its PRESERVE_FD failed, no "
    "file of that token.")
DOCS[LUO_FILE_OK] = "Vacuity guard: some run has the next kernel restore the preserved memfd."
DOCS[LUO_RESTORE_RETURNS] = (
    "Restore returns exactly what was preserved, judged from the userspace task's own record: "
    "if PRESERVE_FD returned 0 before machine_kexec and the task had not begun to close the "
    "session, the next kernel's userspace can RETRIEVE_SESSION \"s0\" and RETRIEVE_FD the token "
    "(luo_session_retrieve, luo_retrieve_file -> memfd_luo_retrieve), and the file holds the "
    "same physical pages, order 0, each at its index, with the bytes the task wrote; FINISH "
    "then returns 0.")
DOCS[LUO_FINISH_RECLAIMS] = (
    "A file never retrieved is given back: if PRESERVE_FD returned 0 before machine_kexec and "
    "the task had not begun to close, the next kernel's userspace can RETRIEVE_SESSION \"s0\" and "
    "close it without RETRIEVE_FD; the release's luo_file_finish returns 0 and memfd_luo_finish "
    "restores (and frees) every page the task preserved.")


def _luo_sessions(kho, h):
    nk = next_kernel(kho, h)
    if not nk.revived:
        return nk, ()
    return nk, kho.k.luo_early_startup_in(nk, h.pages)


def _luo_file(sessions, token):
    for name, files in sessions or ():
        if name == LUO_SESSION:
            for compatible, tok, data in files:
                if tok == token:
                    return compatible, data
    return None


def _memfd_back(kho, nk, h, data):
    """The memfd's page contents by index as memfd_luo_retrieve gives them back, or None."""
    err, f = kho.k.memfd_luo_retrieve(nk, h.pages, data, set())
    if err or f is None:
        return None
    return tuple(read_phys(h.pages, phys, PAGE_SIZE) for _, phys, _ in sorted(f.folios))


def _preserved(entries) -> list:
    return [e for e in entries if e[0] == "preserve_fd" and e[2] == 0]


def _judged(kho, s, record):
    """What the promises about a PRESERVE_FD that returned 0 judge in state *s*: None when
    there is nothing to judge (no handover yet, the task began to close the session, or no
    PRESERVE_FD returned 0), else ``(handover, the preserved entries)``."""
    h = s[kho.handover]
    if h is None:
        return None
    entries = s[record]
    ok = _preserved(entries)
    if ("closing",) in entries or not ok:
        return None
    return h, ok


def luo_preserved_restorable(kho, record):
    def check(s) -> bool:
        judged = _judged(kho, s, record)
        if judged is None:
            return True
        h, ok = judged
        nk, sessions = _luo_sessions(kho, h)
        for _, token, _, contents, _ in ok:
            f = _luo_file(sessions, token)
            if f is None or f[0] != "memfd-v1" or _memfd_back(kho, nk, h, f[1]) != contents:
                return False
        return True
    check.__doc__ = DOCS[LUO_RESTORABLE]
    return check


def _incoming(kho, h):
    """The next kernel's LUO after luo_session_deserialize (a fresh one per question: its
    objects are mutated by the calls), or None."""
    nk = next_kernel(kho, h)
    if not nk.revived:
        return None
    k = kho.k
    return k.luo_incoming(k, nk, h.pages, (k.MEMFD_LUO_HANDLER,))


def luo_restore_returns_preserved(kho, record):
    """The next kernel's userspace retrieves session "s0" and RETRIEVE_FDs every token whose
    PRESERVE_FD returned 0; each file must hold the very pages preserved (same physical pages,
    order 0, at the same index, in the same order) with the bytes written; then FINISH returns 0."""
    def check(s) -> bool:
        judged = _judged(kho, s, record)
        if judged is None:
            return True
        h, ok = judged
        inc = _incoming(kho, h)
        if inc is None:
            return False
        k = kho.k
        err, session = k.luo_session_retrieve(inc, LUO_SESSION)
        if err:
            return False
        for _, token, _, contents, folios in ok:
            err, f = k.luo_session_retrieve_fd(inc, session, token)
            if err or f is None:
                return False
            if f.folios != tuple((i, phys, 0) for i, phys in enumerate(folios)):
                return False
            if tuple(read_phys(h.pages, phys, PAGE_SIZE) for phys in folios) != contents:
                return False
        return k.luo_session_finish(inc, session) == 0
    check.__doc__ = DOCS[LUO_RESTORE_RETURNS]
    return check


def luo_finish_reclaims(kho, record):
    """The next kernel's userspace retrieves session "s0" and closes it without RETRIEVE_FD:
    release's finish must return 0 and give every preserved page of the memfd back (each
    restored: memfd_luo_finish's discard)."""
    def check(s) -> bool:
        judged = _judged(kho, s, record)
        if judged is None:
            return True
        h, ok = judged
        inc = _incoming(kho, h)
        if inc is None:
            return False
        k = kho.k
        err, session = k.luo_session_retrieve(inc, LUO_SESSION)
        if err or k.luo_session_release_incoming(inc, session):
            return False
        return all(phys >> PAGE_SHIFT in inc.restored for e in ok for phys in e[4])
    check.__doc__ = DOCS[LUO_FINISH_RECLAIMS]
    return check


def luo_nothing_unpreserved(kho, record):
    def check(s) -> bool:
        h = s[kho.handover]
        if h is None:
            return True
        entries = s[record]
        _, sessions = _luo_sessions(kho, h)
        if ("closed", 0) in entries and any(n == LUO_SESSION for n, _ in sessions or ()):
            return False
        for e in entries:
            if e[0] == "preserve_fd" and e[2] != 0 and _luo_file(sessions, e[1]) is not None:
                return False
        return True
    check.__doc__ = DOCS[LUO_NOTHING_UNPRESERVED]
    return check


def luo_file_restored(kho, record):
    def check(s) -> bool:
        h = s[kho.handover]
        if h is None:
            return False
        nk, sessions = _luo_sessions(kho, h)
        f = _luo_file(sessions, 1)
        return f is not None and _memfd_back(kho, nk, h, f[1]) is not None
    return check


def register_luo(m, kho, record, guards: tuple = ()):
    """The KHO promises plus the LUO ones of a scenario with a userspace LUO agent."""
    register(m, kho, (), False, guards)
    m.always(LUO_RESTORABLE, luo_preserved_restorable(kho, record), DOCS[LUO_RESTORABLE])
    m.always(LUO_NOTHING_UNPRESERVED, luo_nothing_unpreserved(kho, record),
             DOCS[LUO_NOTHING_UNPRESERVED])
    m.always(LUO_RESTORE_RETURNS, luo_restore_returns_preserved(kho, record),
             DOCS[LUO_RESTORE_RETURNS])
    m.always(LUO_FINISH_RECLAIMS, luo_finish_reclaims(kho, record), DOCS[LUO_FINISH_RECLAIMS])
    m.sometimes(LUO_FILE_OK, luo_file_restored(kho, record), DOCS[LUO_FILE_OK])
