"""KHO v4 (Rapoport, 20250206132754.2596694-1-rppt@kernel.org): one package, the kernel's files.

kexec_handover.py mirrors kernel/kexec_handover.c of the posted series (patches 05, 06 and 07:
generation helpers, parsing, kexec file loads).  ``ERA`` is the posted series as one base.
"""

from khomc.kho.ledger import Era
from khomc.kho.v4 import kexec_handover

ERA = Era("v4", base=(kexec_handover,),
          doc="v4 series as posted, 20250206132754.2596694-1-rppt@kernel.org")
