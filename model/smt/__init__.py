"""z3 proofs for all inputs of KHO's bit-level encodings (issue 5, item 3, the encoding part).

One module per encoding family, each citing the kernel source it follows:

* :mod:`khomc.smt.khoser` — the khoser chunk encoding of the preserved-memory map (v5..6.19);
* :mod:`khomc.smt.radix` — the 7.1 radix-tree key and tree path;
* :mod:`khomc.smt.split` — splitting a range into naturally aligned blocks, and the restore side;

with the shared result type and solver plumbing in :mod:`khomc.smt.core` and the era catalog in
:mod:`khomc.smt.catalog`.  The plain-Python twins of the encodings (the reference the hypothesis
agreement tests compare against) are in :mod:`khomc.kho.encoding`.  Spec modules never import
this package; ``khomc prove`` and ``properties/smt`` do.

* :mod:`khomc.smt.protocol` — each era's page-accounting protocol over uninterpreted sorts
  (issue 5, item 3, third bullet): invariant I1 proved inductive (v5, 7.1), or a
  counterexample to induction shown reachable by bounded model checking and reproduced on the
  era's Python spec before it is reported (6.16, 6.18, 6.19); its plain-Python twin
  :func:`khomc.smt.protocol.py_step` is what the agreement tests compare with.
"""

from .catalog import ERAS, UnknownEra, exit_code, plan, prove
from .core import IN_DOMAIN, KINDS, ObligationResult, Status

__all__ = ["ERAS", "IN_DOMAIN", "KINDS", "ObligationResult", "Status", "UnknownEra", "exit_code",
           "plan", "prove"]
