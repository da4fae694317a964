"""LUO in the next kernel: sessions and files handed over, RETRIEVE_FD and FINISH.

Mirrors the incoming halves of kernel/liveupdate/luo_core.c@0153094d03df (``luo_early_startup``:
the "LUO" subtree, its compatible, ``liveupdate-number``, then ``luo_session_setup_incoming``:
the session node, its compatible and header - any failure disables live update),
kernel/liveupdate/luo_session.c (as stored at 7f790dd21a93, the 6.19 file; see luo_session.py)
and kernel/liveupdate/luo_file.c@b2135d1cb0e3:

* ``luo_session_deserialize`` - for each ``luo_session_ser`` (``header_ser->count`` of them):
  ``luo_session_alloc``, ``luo_session_insert`` into the incoming list (-EEXIST for a repeated
  name stops the walk, the sessions before it stay), then ``luo_file_deserialize`` under the
  session's mutex, whose return value the C ignores; finally ``kho_restore_free(header_ser)``;
* ``luo_file_deserialize`` - nothing when ``file_set_ser->files`` is 0 (WARN on a count);
  otherwise ``count`` and ``files`` taken as handed over, and for each ``luo_file_ser`` the
  handler whose compatible matches (-ENOENT at the first without one, the entries before it
  kept) with ``file = NULL``, ``retrieved = false``;
* ``luo_session_retrieve`` (LIVEUPDATE_IOCTL_RETRIEVE_SESSION) - -ENOENT for an unknown name,
  -EINVAL for a session already retrieved, else ``retrieved = true``;
* ``luo_session_retrieve_fd`` -> ``luo_retrieve_file`` (LIVEUPDATE_SESSION_RETRIEVE_FD) -
  -ENOENT on an empty list or an unknown token; a file retrieved before is returned again (6.19
  keeps no failed status: a failed ``.retrieve`` is tried again on the next call); otherwise
  ``.retrieve`` and, on success, ``file`` and ``retrieved = true``;
* ``luo_session_finish`` (LIVEUPDATE_SESSION_FINISH) and ``luo_session_release`` of a retrieved
  session - ``luo_session_finish_one`` -> ``luo_file_finish``: 0 for an empty set; every file's
  ``can_finish`` (memfd has none: true); then, last file first, ``.finish`` with ``retrieved``,
  ``fput``, the entry removed; finally ``kho_restore_free(file_set->files)``.  release returns
  finish's error without removing the session, else removes it.

The next kernel is a function of the handed-over memory (as the era's ``boot``): these are pure
functions over plain objects, run by the promises (model/promises/luo.py) as the next kernel's
userspace would call them, one at a time.  Abstractions: ``kzalloc`` of sessions and files and
the fd/anon-inode plumbing succeed; ``luo_session_deserialize`` runs once (its static
``is_deserialized``), at the first open of /dev/liveupdate.
"""

from __future__ import annotations

from khomc.kernel.alloc import read_phys
from khomc.kernel.errno import EEXIST, EINVAL, ENOENT
from khomc.kho.fdt import find, prop, unflatten


class IncomingFile:
    """``struct luo_file`` in the next kernel."""

    def __init__(self, fh, token: int, serialized_data: int):
        self.fh = fh
        self.token = token
        self.serialized_data = serialized_data
        self.file = None
        self.retrieved = False

    def __repr__(self):
        return f"luo_file(token={self.token}, retrieved={self.retrieved})"


class IncomingSession:
    """``struct luo_session`` on the incoming list: name, file_set (files_list, count, files)."""

    def __init__(self, name: str):
        self.name = name
        self.files: list = []
        self.count = 0
        self.files_mem = 0
        self.retrieved = False

    def __repr__(self):
        return f"luo_session({self.name!r}, {self.files})"


class Incoming:
    """``luo_session_global.incoming`` and the next kernel's memory (*nk*, *pages*) with the
    set of pages restored so far (each restore clears the KHO magic)."""

    def __init__(self, kernel, nk, pages: tuple, handlers: tuple):
        self.k = kernel
        self.handlers = handlers             # luo_file_handler_list (memfd_luo_init)
        self.nk = nk
        self.pages = pages
        self.restored: set = set()
        self.list: list = []
        self.error = 0                       # luo_session_deserialize's return


def _handler(inc: Incoming, compatible: str):
    for fh in inc.handlers:
        if fh.compatible == compatible:
            return fh
    return None


def luo_file_deserialize(inc: Incoming, session: IncomingSession, count: int, files: int) -> int:
    if not files:
        return 0                             # WARN_ON(count)
    session.count = count
    session.files_mem = files
    i = 0
    while i < count:
        raw = read_phys(inc.pages, files + i * 32, 32)
        compatible = raw[:16].split(b"\0")[0].decode(errors="replace")
        fh = _handler(inc, compatible)
        if fh is None:
            return -ENOENT                   # "No registered handler"
        session.files.append(IncomingFile(fh, int.from_bytes(raw[24:32], "little"),
                                          int.from_bytes(raw[16:24], "little")))
        i += 1
    return 0


def luo_session_deserialize(inc: Incoming, header_ser: int) -> int:
    k = inc.k
    count = int.from_bytes(read_phys(inc.pages, header_ser, 8), "little")
    i = 0
    while i < count and i < k.LUO_SESSION_MAX:
        raw = read_phys(inc.pages, header_ser + 8 + i * k.LUO_SESSION_SER, k.LUO_SESSION_SER)
        session = IncomingSession(raw[:16].split(b"\0")[0].decode(errors="replace"))
        if any(s.name == session.name for s in inc.list):
            return -EEXIST                   # luo_session_insert fails; session freed
        inc.list.append(session)
        luo_file_deserialize(inc, session, int.from_bytes(raw[16:24], "little"),
                             int.from_bytes(raw[24:32], "little"))     # return value ignored
        i += 1
    k.kho_restore_free(inc.nk, header_ser, inc.restored)
    return 0


def luo_session_retrieve(inc: Incoming, name: str):
    """``(err, session)``."""
    for session in inc.list:
        if session.name == name:
            if session.retrieved:
                return -EINVAL, None
            session.retrieved = True         # luo_session_getfile succeeds
            return 0, session
    return -ENOENT, None


def luo_retrieve_file(inc: Incoming, session: IncomingSession, token: int):
    """``(err, file)``."""
    if not session.files:
        return -ENOENT, None
    for luo_file in session.files:
        if luo_file.token == token:
            break
    else:
        return -ENOENT, None
    if luo_file.retrieved:
        return 0, luo_file.file              # get_file
    err, file = fh_op_next(inc, luo_file.fh, "retrieve")(
        inc.nk, inc.pages, luo_file.serialized_data, inc.restored)
    if not err:
        luo_file.file = file
        luo_file.retrieved = True
    return err, file


def luo_session_retrieve_fd(inc: Incoming, session: IncomingSession, token: int):
    return luo_retrieve_file(inc, session, token)   # the fd and the response succeed


def luo_file_finish(inc: Incoming, session: IncomingSession) -> int:
    if not session.count:
        return 0
    # luo_file_can_finish_one: memfd has no can_finish, every file can finish
    while session.files:
        luo_file = session.files[-1]
        fh_op_next(inc, luo_file.fh, "finish")(                         # luo_file_finish_one
            inc.nk, inc.pages, luo_file.serialized_data, luo_file.retrieved, inc.restored)
        session.files.pop()                            # fput, list_del, kfree
        session.count -= 1
    if session.files_mem:
        inc.k.kho_restore_free(inc.nk, session.files_mem, inc.restored)
        session.files_mem = 0
    return 0


def luo_session_finish(inc: Incoming, session: IncomingSession) -> int:
    return luo_file_finish(inc, session)             # luo_session_finish_one


def luo_session_release_incoming(inc: Incoming, session: IncomingSession) -> int:
    err = luo_file_finish(inc, session)
    if err:
        return err                                   # "Unable to finish session"
    inc.list.remove(session)
    return 0


def fh_op_next(inc: Incoming, fh, op: str):
    """``fh->ops->op`` in the next kernel: the handler's function in the era namespace."""
    return getattr(inc.k, dict(fh.ops)[op])


def luo_incoming(kernel, nk, pages: tuple, handlers: tuple):
    """The next kernel up to its first /dev/liveupdate open: luo_early_startup (the LUO
    subtree, its session node) and luo_session_deserialize.  None when there is no LUO state
    to take (no subtree, or a malformed one: luo_early_startup fails)."""
    k = kernel
    fdt_phys = k.kho_retrieve_subtree(nk, k.LUO_FDT_KHO_ENTRY_NAME)
    if fdt_phys < 0:
        return None
    parsed = unflatten(read_phys(pages, fdt_phys, k.LUO_FDT_SIZE))
    if parsed.tree is None or prop(parsed.tree, "compatible") != k.LUO_FDT_COMPATIBLE:
        return None                          # -EINVAL: live update disabled
    ln = prop(parsed.tree, k.LUO_FDT_LIVEUPDATE_NUM)
    if ln is None or len(ln) != 8:
        return None                          # "Unable to get live update number"
    node = find(parsed.tree, (k.LUO_FDT_SESSION_NODE_NAME,))     # luo_session_setup_incoming
    if node is None or prop(node, k.LUO_FDT_SESSION_COMPATIBLE_PROP) != \
            k.LUO_FDT_SESSION_COMPATIBLE:
        return None
    header = prop(node, k.LUO_FDT_SESSION_HEADER)
    if header is None or len(header) != 8:
        return None
    inc = Incoming(k, nk, pages, handlers)
    inc.error = luo_session_deserialize(inc, int.from_bytes(header, "little"))
    return inc
