"""The proof-obligation result and the z3 plumbing every encoding family shares.

Owns: the three statuses (PROVED / REFUTED / UNKNOWN), :class:`ObligationResult` (what
``khomc prove`` prints), deterministic solver construction (fixed ``smt.random_seed`` and
``sat.random_seed``, a timeout), the validity check with counterexample extraction and
minimisation, and the 64-bit bit-vector versions of the kernel's bit helpers
(``fls64``, ``count_trailing_zeros``, ``ilog2``) that the encodings are written in.

Honesty rules, as for the search engines: PROVED only when z3 answered *unsat* for the negated
claim over the stated domain; REFUTED only with a model, reported in domain terms (pfns, orders,
addresses, pages) after being minimised; everything else UNKNOWN with z3's reason and the time.
No kernel version is followed here; the encoding modules say which one they follow.
"""

from __future__ import annotations

import enum
import time
from dataclasses import dataclass, field
from typing import Callable, Mapping, Sequence

import z3

DEFAULT_SEED = 0
DEFAULT_TIMEOUT_MS = 60_000
W = 64                                   # every kernel value here is an unsigned long / u64


class Status(str, enum.Enum):
    PROVED = "PROVED"
    REFUTED = "REFUTED"
    UNKNOWN = "UNKNOWN"

    def __str__(self) -> str:
        return self.value


IN_DOMAIN = "in-domain"          # expected PROVED: the fact holds for every allowed input
OUT_OF_DOMAIN = "out-of-domain"  # expected REFUTED: where the encoding breaks outside the domain
KNOWN_BUG = "known-bug"          # expected REFUTED: a design bug acknowledged on the list
FINDING = "finding"              # expected REFUTED: a failure inside the API's domain that this
                                 # model found; pinned so a change in it is noticed
KINDS = (IN_DOMAIN, OUT_OF_DOMAIN, KNOWN_BUG, FINDING)


@dataclass(frozen=True)
class ObligationResult:
    """One proof obligation's outcome.

    Invariant: ``counterexample`` is non-empty exactly when ``status`` is REFUTED; ``reason`` is
    set when ``status`` is UNKNOWN.
    """

    name: str
    eras: tuple[str, ...]
    kind: str                        # one of KINDS
    status: Status
    seconds: float
    seed: int
    domain: str                      # what "for all" covers, in words
    source: str                      # the kernel source the encoding follows
    counterexample: Mapping[str, object] = field(default_factory=dict)
    reason: str = ""

    @property
    def expected(self) -> Status:
        return Status.PROVED if self.kind == IN_DOMAIN else Status.REFUTED

    @property
    def as_expected(self) -> bool:
        return self.status is self.expected

    def counterexample_text(self) -> str:
        return ", ".join(f"{k}={_fmt(v)}" for k, v in self.counterexample.items())

    def as_dict(self) -> dict:
        return {"name": self.name, "eras": list(self.eras), "kind": self.kind,
                "status": str(self.status), "expected": str(self.expected),
                "seconds": round(self.seconds, 3), "seed": self.seed, "domain": self.domain,
                "source": self.source, "counterexample": dict(self.counterexample),
                "reason": self.reason}


def _fmt(v: object) -> str:
    return hex(v) if isinstance(v, int) and v >= 4096 else str(v)


# -- solver plumbing ----------------------------------------------------------------------------

def make_solver(seed: int = DEFAULT_SEED, timeout_ms: int = DEFAULT_TIMEOUT_MS) -> z3.Solver:
    """A solver whose answers (and models) do not vary between runs: fixed seeds, one thread."""
    z3.set_param("smt.random_seed", seed)
    z3.set_param("sat.random_seed", seed)
    s = z3.SolverFor("QF_BV")
    s.set("random_seed", seed)
    s.set("timeout", timeout_ms)
    return s


def _minimise(s: z3.Solver, var: z3.BitVecRef) -> bool:
    """Pin *var* to its least unsigned value over the current constraints (binary search).

    Returns False if a probe came back unknown; *var* is then pinned to the least value seen so
    far, which is still a genuine counterexample, just perhaps not the smallest.
    """
    hi = s.model().eval(var, model_completion=True).as_long()
    lo, exact = 0, True
    while lo < hi:
        mid = (lo + hi) // 2
        s.push()
        s.add(z3.ULE(var, mid))
        answer = s.check()
        if answer == z3.sat:
            hi = s.model().eval(var, model_completion=True).as_long()
        s.pop()
        if answer == z3.unknown:
            exact = False
            break
        if answer == z3.unsat:
            lo = mid + 1
    s.add(var == hi)
    if s.check() != z3.sat:  # pragma: no cover - hi was witnessed by a model
        raise RuntimeError(f"minimising {var}: the witnessed value {hi} is no longer satisfiable")
    return exact


def check_claim(name: str, eras: Sequence[str], kind: str, *, domain: z3.BoolRef,
                claim: z3.BoolRef, variables: Mapping[str, z3.BitVecRef],
                describe: Callable[[dict[str, int]], dict] | None = None,
                minimise: Sequence[str] = (), domain_text: str, source: str,
                seed: int = DEFAULT_SEED, timeout_ms: int = DEFAULT_TIMEOUT_MS
                ) -> ObligationResult:
    """Prove ``domain -> claim`` for all values of *variables*, or refute it with a model.

    On REFUTED the model's values of *variables* are minimised in the order *minimise* names
    them (so counterexamples are the smallest, and stable), then *describe* turns them into the
    domain-level counterexample (it may add derived values such as the decoded pfn).
    """
    s = make_solver(seed, timeout_ms)
    s.add(domain, z3.Not(claim))
    t0 = time.perf_counter()
    answer = s.check()
    common = dict(name=name, eras=tuple(eras), kind=kind, seed=seed, domain=domain_text,
                  source=source)
    if answer == z3.unsat:
        return ObligationResult(status=Status.PROVED, seconds=time.perf_counter() - t0, **common)
    if answer == z3.unknown:
        return ObligationResult(status=Status.UNKNOWN, seconds=time.perf_counter() - t0,
                                reason=f"z3: {s.reason_unknown()}", **common)
    exact = all([_minimise(s, variables[v]) for v in minimise])
    m = s.model()
    values = {k: m.eval(v, model_completion=True).as_long() for k, v in variables.items()}
    cex = describe(values) if describe else values
    return ObligationResult(status=Status.REFUTED, seconds=time.perf_counter() - t0,
                            counterexample=cex, reason="" if exact else
                            "counterexample minimisation stopped early (solver unknown)", **common)


# -- the kernel's bit helpers on 64-bit bit-vectors -----------------------------------------------

def bv(value: int) -> z3.BitVecNumRef:
    return z3.BitVecVal(value, W)


def fls64(x: z3.BitVecRef) -> z3.BitVecRef:
    """1-based index of the most significant set bit, 0 for 0 (include/asm-generic/bitops/fls64.h)."""
    r = bv(0)
    for i in range(W):                       # a higher set bit overrides a lower one
        r = z3.If(z3.Extract(i, i, x) == 1, bv(i + 1), r)
    return r


def ctz64(x: z3.BitVecRef) -> z3.BitVecRef:
    """count_trailing_zeros, with BITS_PER_LONG for 0 - not the kernel's -1
    (include/linux/count_zeros.h; see khomc.kho.encoding's KNOWN DIVERGENCE)."""
    r = bv(W)
    for i in reversed(range(W)):             # a lower set bit overrides a higher one
        r = z3.If(z3.Extract(i, i, x) == 1, bv(i), r)
    return r


def ilog2_64(x: z3.BitVecRef) -> z3.BitVecRef:
    """Floor log2; callers constrain x > 0 (the kernel's ilog2(0) is undefined)."""
    return fls64(x) - 1


def lowbit(x: z3.BitVecRef) -> z3.BitVecRef:
    """The lowest set bit of x as a power of two (0 for 0): 1 << ctz(x) without a shifter."""
    return x & -x


def highbit(x: z3.BitVecRef) -> z3.BitVecRef:
    """The highest set bit of x as a power of two (0 for 0): 1 << ilog2(x) without a shifter."""
    for k in (1, 2, 4, 8, 16, 32):
        x = x | z3.LShR(x, k)
    return x ^ z3.LShR(x, 1)


def umin(a: z3.BitVecRef, b: z3.BitVecRef) -> z3.BitVecRef:
    return z3.If(z3.ULE(a, b), a, b)


def aligned(pfn: z3.BitVecRef, order: z3.BitVecRef) -> z3.BoolRef:
    """pfn is a multiple of 2**order (order < 64)."""
    return pfn & ((bv(1) << order) - 1) == 0


def int32_shl_to_u64(shift: z3.BitVecRef) -> z3.BitVecRef:
    """``1 << shift`` as a 32-bit C int, sign-extended to 64 bits (see khomc.kho.encoding)."""
    return z3.SignExt(32, z3.BitVecVal(1, 32) << z3.Extract(31, 0, shift))


def evaluate(expr: z3.ExprRef, **values: int) -> int:
    """The value of a bit-vector expression with its free constants set to *values*."""
    subs = [(z3.BitVec(k, W), bv(v)) for k, v in values.items()]
    return z3.simplify(z3.substitute(expr, *subs)).as_long()
