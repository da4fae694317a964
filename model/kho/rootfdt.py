"""The root FDT of the LUO-era KHO (6.19, 7.1, mainline-2026-04): a page of real FDT bytes edited in place.

Owns the byte-level edits that ``kho_add_subtree`` / ``kho_remove_subtree`` /
``kho_update_memory_map`` / ``kho_out_fdt_setup`` make to the root FDT, as pure functions of the
page's bytes, with libfdt (pylibfdt) doing the work the kernel's libfdt calls do:

* ``kho_out_fdt_setup`` (torvalds/linux:kernel/liveupdate/kexec_handover.c@dd03dd60e8cd for
  6.19, @019fc3687237 for 7.1): an empty tree with ``compatible`` and the memory-map property
  (``preserved-memory-map``), written once at kho_init;
* ``kho_add_subtree`` (8e068a286aef, "update the FDT dynamically"): ``fdt_open_into`` to the page
  size, ``fdt_add_subnode`` under the root (``-EEXIST`` for a duplicate name, which libfdt
  reports as -FDT_ERR_EXISTS), ``fdt_setprop`` of the subtree's physical address, ``fdt_pack``;
* ``kho_remove_subtree``: find the root child whose address property equals the FDT's physical
  address, ``fdt_del_node``, ``fdt_pack``;
* ``kho_update_memory_map``'s ``put_unaligned`` into the memory-map property (in place).

Values are written as the kernel writes them, in native (little-endian) byte order:
``fdt_setprop(root, off, "fdt", &phys, sizeof(phys))`` and ``put_unaligned(phys, ptr)``, read
back with ``get_unaligned`` - not libfdt's big-endian ``fdt_setprop_u64``.

The property that holds a subtree's address is ``fdt`` in kho-v1 and ``preserved-data`` in
kho-v2 (7.1's ABI, include/linux/kho/abi/kexec_handover.h@3f2ad90060f6); callers pass it.
"""

from __future__ import annotations

import functools

import libfdt

from ..kernel.alloc import PAGE_SIZE
from ..kernel.errno import EEXIST, ENOMEM

U64 = 8


def _fdt(blob: bytes) -> libfdt.Fdt:
    fdt = libfdt.Fdt(bytearray(blob) + bytearray(max(0, PAGE_SIZE - len(blob))))
    fdt.resize(PAGE_SIZE)          # fdt_open_into(root, root, PAGE_SIZE)
    return fdt


def _packed(fdt: libfdt.Fdt) -> bytes:
    fdt.pack()
    return bytes(fdt.as_bytearray()[:fdt.totalsize()])


@functools.lru_cache(maxsize=256)
def setup(compatible: str, map_prop: str, map_phys: int) -> bytes:
    """``kho_out_fdt_setup``: the root with its compatible string and memory-map property.

    >>> len(setup("kho-v1", "preserved-memory-map", 0)) < PAGE_SIZE
    True
    """
    fdt = libfdt.Fdt.create_empty_tree(PAGE_SIZE)
    fdt.setprop_str(0, "compatible", compatible)
    fdt.setprop(0, map_prop, map_phys.to_bytes(U64, "little"))
    return _packed(fdt)


@functools.lru_cache(maxsize=4096)
def add_subtree(blob: bytes, name: str, prop: str, phys: int) -> tuple:
    """``(new blob, 0)`` or ``(blob after fdt_pack, err)``, as kho_add_subtree leaves it in 6.19
    and 7.1: -EEXIST for a duplicate name, -ENOMEM for another fdt_add_subnode failure, and a
    failed ``fdt_setprop``'s raw libfdt error (e.g. -FDT_ERR_NOSPACE) with the new node left in
    the tree, as the kernel does until 9ec953298948.

    >>> b, err = add_subtree(setup("kho-v1", "m", 0), "a", "fdt", 0x5000)
    >>> err, add_subtree(b, "a", "fdt", 0x6000)[1] == -EEXIST
    (0, True)
    """
    return add_subtree_props(blob, name, ((prop, phys.to_bytes(U64, "little")),), False)


@functools.lru_cache(maxsize=4096)
def add_subtree_props(blob: bytes, name: str, props: tuple, del_node_on_error: bool) -> tuple:
    """``fdt_open_into``, ``fdt_add_subnode(root, 0, name)``, one ``fdt_setprop`` per
    ``(prop, value)`` in *props*, ``fdt_pack``.  A failed setprop returns its raw libfdt
    error and leaves the node, or, with *del_node_on_error* (9ec953298948), deletes the node
    and returns -ENOMEM."""
    fdt = _fdt(blob)
    try:
        off = fdt.add_subnode(0, name)
    except libfdt.FdtException as exc:
        return _packed(fdt), (-EEXIST if exc.err == -libfdt.EXISTS else -ENOMEM)
    for key, value in props:
        try:
            fdt.setprop(off, key, value)
        except libfdt.FdtException as exc:
            if del_node_on_error:
                fdt.del_node(off)
                return _packed(fdt), -ENOMEM
            return _packed(fdt), exc.err
    return _packed(fdt), 0


@functools.lru_cache(maxsize=4096)
def remove_subtree(blob: bytes, prop: str, phys: int) -> bytes:
    """The blob without the root child whose *prop* is *phys* (unchanged if there is none)."""
    fdt = _fdt(blob)
    quiet = (libfdt.NOTFOUND,)
    off = fdt.first_subnode(0, quiet)
    while off >= 0:
        val = fdt.getprop(off, prop, quiet)
        if not isinstance(val, int) and len(val) == U64 and int.from_bytes(bytes(val), "little") == phys:
            fdt.del_node(off)
            break
        off = fdt.next_subnode(off, quiet)
    return _packed(fdt)


@functools.lru_cache(maxsize=4096)
def get_u64(blob: bytes, prop: str) -> int | None:
    """The root's u64 property *prop* (fdt_getprop + get_unaligned), None if absent or short."""
    try:
        val = libfdt.Fdt(bytearray(blob)).getprop(0, prop, (libfdt.NOTFOUND,))
    except libfdt.FdtException:
        return None
    if isinstance(val, int) or len(val) != U64:
        return None
    return int.from_bytes(bytes(val), "little")


@functools.lru_cache(maxsize=4096)
def set_u64(blob: bytes, prop: str, value: int) -> bytes:
    """``put_unaligned(value, fdt_getprop_w(root, 0, prop))``: an in-place 8-byte store."""
    fdt = libfdt.Fdt(bytearray(blob))
    fdt.setprop(0, prop, value.to_bytes(U64, "little"))
    return bytes(fdt.as_bytearray()[:fdt.totalsize()])


def subtrees(blob: bytes, prop: str) -> tuple:
    """``((name, phys), ...)`` of the root's children, in FDT order (for ghost checks)."""
    try:
        fdt = libfdt.Fdt(bytearray(blob))
    except libfdt.FdtException:
        return ()
    out = []
    quiet = (libfdt.NOTFOUND,)
    off = fdt.first_subnode(0, quiet)
    while off >= 0:
        val = fdt.getprop(off, prop, quiet)
        phys = None if isinstance(val, int) or len(val) != U64 else int.from_bytes(bytes(val), "little")
        out.append((fdt.get_name(off), phys))
        off = fdt.next_subnode(off, quiet)
    return tuple(out)
