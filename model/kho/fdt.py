"""Flattened device trees as real bytes: building KHO's blob and reading one back, with libfdt.

Owns the byte-level side of KHO's FDT for the eras that flatten a tree: ``flatten`` writes a
blob with libfdt's sequential-write API into a buffer of a fixed size (the kernel's
``fdt_create(buf, size)`` / ``fdt_begin_node`` / ``fdt_property`` / ``fdt_end_node`` /
``fdt_finish``, scripts/dtc/libfdt/fdt_sw.c), so running out of room fails exactly where the
kernel's ``kho_convert_tree`` fails; ``unflatten`` reads a blob back into nested values, refusing
anything malformed with a reason instead of raising.  Both are pure functions of their inputs.

The tree value is ``(name, props, children)`` with ``props`` a tuple of ``(key, bytes)`` and
``children`` a tuple of such trees; the order of each tuple is the order written.
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import libfdt


class FdtTree(NamedTuple):
    name: str
    props: tuple          # ((key, bytes), ...)
    children: tuple       # (FdtTree, ...)


def canonical(tree: FdtTree) -> tuple:
    """An order-insensitive value of a tree (hash-table iteration order is not part of the ABI).

    >>> canonical(FdtTree("", (("b", b"2"), ("a", b"1")), ())) == \
        canonical(FdtTree("", (("a", b"1"), ("b", b"2")), ()))
    True
    """
    return (tree.name, tuple(sorted(tree.props)),
            tuple(sorted(canonical(c) for c in tree.children)))


@functools.lru_cache(maxsize=4096)
def flatten(tree: FdtTree, size: int) -> bytes | int:
    """The blob of *tree* written into a *size*-byte buffer, or a negative libfdt error."""
    buf = bytearray(size)
    err = libfdt.fdt_create(buf, size)
    if err:
        return err
    err = libfdt.fdt_finish_reservemap(buf)
    if err:
        return err
    err = _write_node(buf, tree)
    if err:
        return err
    err = libfdt.fdt_finish(buf)
    if err:
        return err
    err = libfdt.fdt_check_header(buf)
    if err:
        return err
    return bytes(buf[:libfdt.fdt_totalsize(buf)])


def _write_node(buf: bytearray, node: FdtTree) -> int:
    err = libfdt.fdt_begin_node(buf, node.name)
    if err:
        return err
    for key, value in node.props:
        err = libfdt.fdt_property_stub(buf, key, value, len(value))
        if err:
            return err
    for child in node.children:
        err = _write_node(buf, child)
        if err:
            return err
    return libfdt.fdt_end_node(buf)


class Parsed(NamedTuple):
    """What reading a blob gave: the tree, or None and why not."""

    tree: FdtTree | None
    reason: str


MAX_DEPTH = 16


@functools.lru_cache(maxsize=4096)
def unflatten(blob: bytes) -> Parsed:
    """Check *blob* with libfdt and read it back; never raises on malformed input."""
    buf = bytearray(blob)
    if len(buf) < 40:
        return Parsed(None, f"blob of {len(buf)} bytes is shorter than an FDT header")
    err = libfdt.fdt_check_header(buf)
    if err:
        return Parsed(None, f"fdt_check_header: {libfdt.fdt_strerror(err)}")
    if libfdt.fdt_totalsize(buf) > len(buf):
        return Parsed(None, f"totalsize {libfdt.fdt_totalsize(buf)} exceeds the "
                            f"{len(buf)}-byte segment")
    err = libfdt.fdt_check_full(buf, len(buf))
    if err:
        return Parsed(None, f"fdt_check_full: {libfdt.fdt_strerror(err)}")
    try:
        fdt = libfdt.Fdt(bytes(buf))
        return Parsed(_read_node(fdt, 0, 0), "")
    except (libfdt.FdtException, SystemError, UnicodeDecodeError, RecursionError, ValueError,
            TypeError) as exc:      # pylibfdt raises SystemError on some corrupt properties
        return Parsed(None, f"libfdt walk failed: {exc}")


def _read_node(fdt, offset: int, depth: int) -> FdtTree:
    if depth > MAX_DEPTH:
        raise ValueError(f"nodes nested deeper than {MAX_DEPTH}")
    quiet = (libfdt.NOTFOUND,)
    props = []
    off = fdt.first_property_offset(offset, quiet)
    while off >= 0:
        p = fdt.get_property_by_offset(off)
        props.append((p.name, bytes(p)))
        off = fdt.next_property_offset(off, quiet)
    children = []
    sub = fdt.first_subnode(offset, quiet)
    while sub >= 0:
        children.append(_read_node(fdt, sub, depth + 1))
        sub = fdt.next_subnode(sub, quiet)
    return FdtTree(fdt.get_name(offset), tuple(props), tuple(children))


def find(tree: FdtTree, path: tuple) -> FdtTree | None:
    """The node at *path* (a tuple of names below *tree*), or None.

    >>> find(FdtTree("", (), (FdtTree("a", (), ()),)), ("a",)).name
    'a'
    """
    node = tree
    for name in path:
        node = next((c for c in node.children if c.name == name), None)
        if node is None:
            return None
    return node


def prop(node: FdtTree, key: str) -> bytes | None:
    return next((v for k, v in node.props if k == key), None)
