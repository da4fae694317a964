"""KHO in mainline after 9ec953298948 (April 2026): scenarios.

The shared LUO-era scenarios of :mod:`khomc.scenarios.luo` on the linked kernel of
:data:`khomc.kho.mainline_2026_04.ERA` (7.1 plus the blob-size change and 9ec953298948;
builders take ``kernel=None``).  subtree-full is the one whose verdict the fix flips.
"""

from __future__ import annotations

from khomc.scenarios import luo as luo
from khomc.kho.mainline_2026_04 import ERA

PREVIOUS = "k7.1"
CHANGES = (
    "kho_add_subtree takes (name, blob, size) and writes a blob-size property next to "
    "preserved-data, which kho_retrieve_subtree requires (Breno Leitao's kexec-metadata series, "
    "20260126-kho-v5-0-7cd0f69ab204@debian.org); 9ec953298948 then deletes the node when an "
    "fdt_setprop fails and returns -ENOMEM instead of the raw libfdt error.  Source: the fix "
    "mail 20260410-kho_fix_send-v2-1-1b4debf7ee08@debian.org (diff against blob 94762de1fe5f).")


SCENARIOS = luo.stateless_scenarios(ERA)
