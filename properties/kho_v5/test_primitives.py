"""Kernel primitives the KHO models build on, each against the kernel semantics it cites."""

from pathlib import Path

import pytest

from khomc.engines.search import check
from khomc.kernel.alloc import Heap, KasanReport, kfree, kzalloc
from khomc.kernel.errno import EEXIST
from khomc.kernel.locking import RwSemaphore, down_read, down_write, up_read, up_write
from khomc.kernel.notifier import (NOTIFY_BAD, NOTIFY_OK, BlockingNotifierHead, NotifierBlock,
                                   blocking_notifier_call_chain,
                                   blocking_notifier_chain_register, notifier_from_errno,
                                   notifier_to_errno)
from khomc.runtime import Model, load, store, update


def _add(n, tid, d):
    return n + d, None


async def _reader(sem, inside):
    await down_read(sem)
    await update(inside, _add, 1)
    await update(inside, _add, -1)
    await up_read(sem)


async def _writer(sem, inside, seen):
    await down_write(sem)
    n = await load(inside)
    await store(seen, n)
    await up_write(sem)


def test_rwsem_readers_share_and_a_writer_excludes_them():
    m = Model("t", "rwsem")
    sem = RwSemaphore.new(m, "sem")
    inside = m.var("inside", 0)
    seen = m.var("seen", 0)
    m.task("r0", _reader, sem, inside)
    m.task("r1", _reader, sem, inside)
    m.task("w", _writer, sem, inside, seen)
    m.always("writer-alone", lambda s: s[seen] == 0)
    m.sometimes("two-readers", lambda s: s[inside] == 2)
    r = check(m)
    assert r.verdict.value == "HOLDS", [(p.name, p.message) for p in r.properties]


def test_notifier_errno_round_trip():
    assert notifier_to_errno(NOTIFY_OK) == 0
    assert notifier_to_errno(NOTIFY_BAD) == -1
    assert notifier_to_errno(notifier_from_errno(-16)) == -16


async def _cb(log, name, event, data):
    old = await load(log)
    await store(log, old + (name,))
    return NOTIFY_BAD if name == "stop" else NOTIFY_OK


async def _chain_user(nh, log, blocks, result):
    i = 0
    while i < len(blocks):
        await blocking_notifier_chain_register(nh, blocks[i])
        i += 1
    again = await blocking_notifier_chain_register(nh, blocks[0])
    ret = await blocking_notifier_call_chain(nh, 0)
    await store(result, (again, ret))


def test_notifier_chain_calls_by_priority_and_stops_on_bad():
    m = Model("t", "notifier")
    nh = BlockingNotifierHead(m, "chain")
    log = m.var("log", ())
    result = m.var("result", None)
    blocks = tuple(NotifierBlock(n, _cb, (log, n), p)
                   for n, p in (("low", 0), ("high", 5), ("stop", 3), ("mid", 3)))
    m.task("user", _chain_user, nh, log, blocks, result)
    m.final("order", lambda s: s[log] == ("high", "stop") and s[result] == (-EEXIST, NOTIFY_BAD))
    assert check(m).property("order").verdict.value == "HOLDS"


async def _double_free(heap):
    p = await kzalloc(heap, 16, "probe_alloc")
    await kfree(heap, p, "first_free")
    await kfree(heap, p, "second_free")


def test_kasan_reports_a_double_free_with_both_call_sites():
    m = Model("t", "kasan")
    heap = Heap(m, 2, 1)
    m.task("probe", _double_free, heap)
    m.always("memory-safety", lambda s: s[heap.kasan] is None)
    r = check(m)
    report = r.property("memory-safety").trace.steps[-1].changes["kasan"][1]
    assert "double-free" in report and "first_free" in report and "probe_alloc" in report
    assert isinstance(KasanReport("double-free", 0, "", "", ""), tuple)


FORBIDDEN = ("random", "time", "os", "io", "hypothesis", "z3", "trio", "khomc.engines")


@pytest.mark.parametrize("package", ["kernel", "kho", "drivers"])
def test_model_code_imports_nothing_nondeterministic(package):
    import ast
    root = Path(__file__).resolve().parents[2] / "model" / package
    for path in root.rglob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module]
            for name in names:
                assert not any(name == f or name.startswith(f + ".") for f in FORBIDDEN), \
                    f"{path.name} imports {name}"


@pytest.mark.parametrize("module", [
    "khomc.kernel.alloc", "khomc.kernel.bitops", "khomc.kernel.errno", "khomc.kernel.kexec",
    "khomc.kernel.notifier", "khomc.kho.fdt", "khomc.kho.v5.kexec_handover"])
def test_doctests(module):
    import doctest
    import importlib
    result = doctest.testmod(importlib.import_module(module))
    assert result.failed == 0 and result.attempted > 0


def test_v5_shares_no_code_with_later_eras():
    """v5 and 6.16 share no C: the linked v5 era holds no function of a later era's package
    (kernel primitives such as ilog2 come from khomc.kernel, as the kernel shares them), and
    its kho_preserve_phys is patch 09's (order set once; the unwind reuses it)."""
    import inspect

    from khomc.kho import v5
    k = v5.ERA.namespace()
    mods = {getattr(v, "__module__", "") for v in vars(k).values() if callable(v)}
    later = ("khomc.kho.k6_", "khomc.kho.k7_", "khomc.kho.mainline")
    assert not any(m.startswith(later) for m in mods)
    assert k.ilog2.__module__ == "khomc.kernel.bitops"
    src = inspect.getsource(k.kho_preserve_phys)
    unwind = src[src.index("if err:\n            pfn = phys >> PAGE_SHIFT"):]
    assert "order = ilog2(end_pfn - pfn)\n            while" not in unwind
