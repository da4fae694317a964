"""KHO 6.18: the 6.16 model with the semantic deltas of 6.17/6.18, same scenarios and bounds.

Built by :mod:`khomc.scenarios.k6_16`' builders on ``K616(era="6.18")``
(model/kho/k6_16/kexec_handover.py): the finalized check inside __kho_preserve_order (469661d0d3a5),
kho_preserve_pages (8375b76517cb), the restore magic (89a3ecca49ee, in
model/kho/k6_16/kexec_handover_in.py) and kho_fill_kimage only when finalized (f322a97aeb2a).  Sources:
torvalds/linux:kernel/kexec_handover.c at those commits; ../shared/reference/kho-semantics.md
§2.5.
"""

from __future__ import annotations

from khomc.runtime import Model, Scenario
from khomc.scenarios.params import declare
from khomc.scenarios import k6_16 as base

SPEC, ERA = "k6.18", "6.18"
PREVIOUS = "k6.16"
CHANGES = (
    "6.17/6.18 keep 6.16's design and change four semantics (torvalds/linux, "
    "kernel/kexec_handover.c): the unlocked finalized check moves from kho_preserve_folio into "
    "__kho_preserve_order, so every block of a range is checked (469661d0d3a5); "
    "kho_preserve_pages(page, nr) replaces kho_preserve_phys (8375b76517cb); kho_restore_page "
    "requires the 'KHOP' magic in page->private and clears it, so a second restore of the same "
    "page returns NULL (89a3ecca49ee); and kho_fill_kimage returns early unless KHO is finalized "
    "at kexec_file_load time (f322a97aeb2a), so loading before finalizing hands over no KHO "
    "state at all.")


def test_kho_scenario(nr_folios: int = 1, pages: int = 8) -> Model:
    return base.build_test_kho(SPEC, ERA, nr_folios, pages, doc=base.test_kho_scenario.__doc__)


def test_kho_refinalize(nr_folios: int = 1, pages: int = 8) -> Model:
    return base.build_test_kho(SPEC, ERA, nr_folios, pages,
                               steps=(("finalize", 1), ("finalize", 0)) + base.SELFTEST,
                               name="test-kho-refinalize", doc=base.test_kho_refinalize.__doc__)


def abort_then_kexec(nr_folios: int = 1, pages: int = 8) -> Model:
    return base.build_test_kho(SPEC, ERA, nr_folios, pages,
                               steps=(("load", 0), ("finalize", 1), ("finalize", 0),
                                      ("kexec", 0)),
                               name="abort-then-kexec", doc=base.abort_then_kexec.__doc__)


def double_restore(pages: int = 8) -> Model:
    return base.build_test_kho(SPEC, ERA, 1, pages, dup=True, name="double-restore",
                               doc=base.double_restore.__doc__)


def fdbox_race(pages: int = 8) -> Model:
    return base.build_fdbox_race(SPEC, ERA, pages)


def preserve_race(pages: int = 8) -> Model:
    return base.build_preserve_race(SPEC, ERA, pages)


fdbox_race.__doc__ = base.build_fdbox_race.__doc__
preserve_race.__doc__ = base.build_preserve_race.__doc__
test_kho_scenario.__doc__ = base.test_kho_scenario.__doc__

SCENARIOS = [
    Scenario(sc.name, {"test-kho": test_kho_scenario, "fdbox-race": fdbox_race,
                       "preserve-race": preserve_race, "test-kho-refinalize": test_kho_refinalize,
                       "abort-then-kexec": abort_then_kexec,
                       "double-restore": double_restore}[sc.name], dict(sc.params), sc.doc)
    for sc in base.SCENARIOS
]
SCENARIOS = declare(SCENARIOS)
