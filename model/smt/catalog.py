"""Which proof obligations exist, for which design era, and what a run of them adds up to.

Owns the era names ``khomc prove`` accepts, the order obligations are run and printed in, and the
exit code of a run (the CLI maps it unchanged): 0 when every obligation came out as expected
(in-domain ones PROVED; out-of-domain ones, known bugs and pinned findings REFUTED), 1 when one
did not (above all: an in-domain obligation REFUTED), 3 when any is UNKNOWN.  The encodings and
the kernel versions they follow are in :mod:`khomc.smt.khoser`, :mod:`khomc.smt.radix` and
:mod:`khomc.smt.split`; each era's inductive page-accounting protocol (``protocol.I1[ERA]``:
PROVED for v5 and 7.1, REFUTED with a trace the Python spec reproduces for 6.16, 6.18 and
6.19) is in :mod:`khomc.smt.protocol`.
"""

from __future__ import annotations

from typing import Callable, Iterator

from . import khoser, protocol, radix, split
from .core import DEFAULT_SEED, ObligationResult, Status

ERAS = ("v5", "6.16", "6.18", "6.19", "7.1")

EXIT_AS_EXPECTED = 0
EXIT_UNEXPECTED = 1
EXIT_UNKNOWN = 3


class UnknownEra(LookupError):
    """An era name no obligation covers; the message names the known ones."""


def plan(era: str | None = None) -> list[tuple[tuple[str, ...], Callable[[int], ObligationResult]]]:
    """(eras, run(seed)) of every obligation covering *era* (all of them for None).

    Eras are named as ``khomc check`` names the specs (``k6.16``) or by kernel version
    (``6.16``)."""
    if era is not None and era.startswith("k") and era[1:] in ERAS:
        era = era[1:]
    if era is not None and era not in ERAS:
        raise UnknownEra(f"unknown era {era!r}; known eras: {', '.join(ERAS)}")
    everything = khoser.plan() + radix.plan() + split.plan() + protocol.plan()
    return [(eras, run) for eras, run in everything if era is None or era in eras]


def prove(era: str | None = None, seed: int = DEFAULT_SEED) -> Iterator[ObligationResult]:
    """Run the obligations of *era* one by one (a generator, so a caller can print as they land).

    >>> r = next(prove("7.1"))
    >>> r.name, str(r.status)
    ('khoser.reserve_size[order<=10]', 'PROVED')
    """
    for _, run in plan(era):
        yield run(seed)


def exit_code(results: list[ObligationResult]) -> int:
    """0 all as expected, 3 any UNKNOWN, else 1 (something PROVED or REFUTED against expectation)."""
    if any(r.status is Status.UNKNOWN for r in results):
        return EXIT_UNKNOWN
    if all(r.as_expected for r in results):
        return EXIT_AS_EXPECTED
    return EXIT_UNEXPECTED
