"""The next kernel of v5 on real and on corrupted inputs: accept what the old kernel handed over;
on malformed input do what v5 does - refuse only a bad FDT header, trust everything else, and
report the oops or hang that trust leads to - never raise; the FDT decompiles with dtc."""

import shutil
import subprocess

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from khomc.engines.search import Search
from khomc.kho.v5.kexec_handover_in import boot, boot_from
from khomc.kho.v5.kexec_handover import segment_blob
from khomc.registry import build


@pytest.fixture(scope="module")
def handovers():
    """Every distinct handover reachable in two scenarios (one with a notifier driver)."""
    out = {}
    for name in ("autofinalize", "notifier-adds"):
        model = build("v5", name)
        search = Search(model)
        search.run()
        slot = next(v for v in model.vars if v.name == "handover").slot
        for world, _ in search.states:
            h = world[slot]
            if h is not None:
                out[(segment_blob(h.image), h.pages)] = h
    assert out
    return list(out.values())


def test_every_handover_revives_kho(handovers):
    for h in handovers:
        nk = boot(h)
        assert nk.revived, nk.reason
        assert nk.metadata or not nk.reserved, "the chunk pages are reserved with the map"


def test_fdt_decompiles_with_dtc(handovers, tmp_path):
    dtc = shutil.which("dtc")
    if dtc is None:
        pytest.skip("dtc not installed (apt-get install device-tree-compiler)")
    blobs = {segment_blob(h.image) for h in handovers}
    for i, blob in enumerate(sorted(blobs)):
        path = tmp_path / f"kho{i}.dtb"
        path.write_bytes(blob)
        out = subprocess.run([dtc, "-I", "dtb", "-O", "dts", str(path)], check=True,
                             capture_output=True, text=True).stdout
        assert 'compatible = "kho-v1";' in out
        assert "preserved-memory {" in out and "metadata = " in out


def _corrupt(data: bytes, edits) -> bytes:
    buf = bytearray(data)
    for pos, val in edits:
        if buf:
            buf[pos % len(buf)] = val
    return bytes(buf)


SETTINGS = settings(max_examples=300, deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture])


@SETTINGS
@given(edits=st.lists(st.tuples(st.integers(0, 1 << 16), st.integers(0, 255)), max_size=8),
       cut=st.integers(0, 2048), which=st.integers(0, 1 << 10))
def test_corrupted_fdt_is_refused_with_a_reason_or_accepted(handovers, edits, cut, which):
    h = handovers[which % len(handovers)]
    blob = _corrupt(segment_blob(h.image), edits)[:cut or None]
    nk = boot_from(blob, h.pages)
    assert nk.revived or nk.reason


@SETTINGS
@given(edits=st.lists(st.tuples(st.integers(0, 4095), st.integers(0, 255)), min_size=1,
                      max_size=8),
       which=st.integers(0, 1 << 10), target=st.integers(0, 1 << 10))
def test_corrupted_map_pages_are_refused_with_a_reason_or_accepted(handovers, edits, which,
                                                                  target):
    """Corrupt one chunk or bitmap page in memory: the next kernel either reads a map (maybe a
    different one) or disables KHO revival with a reason; it never raises."""
    h = handovers[which % len(handovers)]
    pages = list(h.pages)
    candidates = [i for i, p in enumerate(pages) if p is not None and not isinstance(p, int)
                  and isinstance(p.data, bytes)]
    i = candidates[target % len(candidates)]
    pages[i] = pages[i]._replace(data=_corrupt(pages[i].data.ljust(4096, b"\0"), edits))
    nk = boot_from(segment_blob(h.image), tuple(pages))
    assert nk.revived or nk.reason
    assert all(0 <= pfn < len(pages) for pfn in nk.reserved)


@pytest.mark.parametrize("blob,why", [
    (b"", "shorter than an FDT header"),
    (b"\xd0\x0d\xfe\xed" + b"\0" * 60, "fdt_check_header"),
])
def test_garbage_is_refused(blob, why):
    nk = boot_from(blob, ())
    assert not nk.revived and why in nk.reason


def _one_handover(handovers):
    return next(h for h in handovers if boot(h).reserved)


def _first_chunk(h):
    from khomc.kho.fdt import find, prop
    nk = boot(h)
    return int.from_bytes(prop(find(nk.fdt, ("preserved-memory",)), "metadata"), "little")


def _with_page(pages, phys, data):
    pages = list(pages)
    i = phys >> 12
    pages[i] = pages[i]._replace(data=data)
    return tuple(pages)


def test_v5_does_not_check_the_root_compatible():
    """kho_populate checks the header only: an FDT whose root says "kho-v2" is revived."""
    from khomc.kho.fdt import FdtTree, flatten
    blob = flatten(FdtTree("", (("compatible", b"kho-v2\0"),), ()), 4096)
    nk = boot_from(blob, ())
    assert nk.revived and not nk.crash and nk.reason.startswith("no preserved-memory node")


def test_a_cycling_chunk_list_hangs_the_next_kernel(handovers):
    h = _one_handover(handovers)
    first = _first_chunk(h)
    page = next(p for i, p in enumerate(h.pages) if i == first >> 12)
    data = first.to_bytes(8, "little") + page.data.ljust(4096, b"\0")[8:]
    nk = boot_from(segment_blob(h.image), _with_page(h.pages, first, data))
    assert not nk.revived and nk.crash.startswith("hang")


def test_a_null_bitmap_pointer_oopses(handovers):
    h = _one_handover(handovers)
    first = _first_chunk(h)
    page = h.pages[first >> 12]
    data = bytearray(page.data.ljust(4096, b"\0"))
    data[24:32] = bytes(8)                   # bitmaps[0].bitmap = NULL
    nk = boot_from(segment_blob(h.image), _with_page(h.pages, first, bytes(data)))
    assert nk.crash and "NULL bitmap" in nk.crash


def test_restore_folio_takes_any_page_and_oopses_past_memory(handovers):
    """v5's kho_restore_folio reads page->private of whatever page is there: a page nobody
    preserved restores as an order-0 folio; a PFN past memory is the NULL dereference."""
    from khomc.kho.v5.kexec_handover_in import kho_restore_folio, kho_restore_phys
    h = _one_handover(handovers)
    nk = boot(h)
    unpreserved = next(pfn for pfn in range(len(h.pages)) if pfn not in nk.reserved)
    assert kho_restore_folio(nk, unpreserved << 12, h.pages) == 0
    assert kho_restore_folio(nk, len(h.pages) << 12, h.pages) is None
    assert kho_restore_phys(nk, unpreserved << 12, 4096, h.pages) == unpreserved << 12
