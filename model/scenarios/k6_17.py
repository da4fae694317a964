"""KHO 6.17: the 6.16 scenarios and bounds built on the 6.17 era (6.16 + three hotfixes).

The scenarios are :mod:`khomc.scenarios.k6_16`'s, built on ``khomc.kho.k6_17.ERA``:
63b17b653df3 (xa_init of a new kho_mem_phys, the same steps in the model), 8b66ed2c3f42 and
44958f2025ed (no modelled function).  Every verdict and state count is therefore 6.16's; the
pins in properties/kho_eras/test_k6_16_k6_18.py say so.
"""

from __future__ import annotations

from khomc.kho import k6_17
from khomc.scenarios import k6_16 as base

ERA = k6_17.ERA
PREVIOUS = "k6.16"
CHANGES = (
    "6.17 adds three hotfixes to 6.16 (20250808201804.772010-1-pasha.tatashin@soleen.com): "
    "__kho_preserve_order initialises a new kho_mem_phys' xarray (63b17b653df3, Fixes: "
    "fc33e4b44b27), KHO refuses DEFERRED_STRUCT_PAGE_INIT (8b66ed2c3f42, Kconfig) and a failed "
    "scratch reservation is reported (44958f2025ed); none changes a modelled behaviour.")

# fdbox-race (~250k states) is 6.16's to the state: checked by the pins, not by default.
SCENARIOS = base.scenarios_for(ERA, not_default={"fdbox-race"})

# three interchangeable clients (issue 12 item 6), checked up to symmetry: k6_16.THREE_PRESERVERS
SCENARIOS = SCENARIOS + base.scenarios_for(ERA, (base.THREE_PRESERVERS,), (), (),
                                           {"three-preservers"})
