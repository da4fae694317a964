"""``khomc bisect``: which commit of an era's ledger flips a property's verdict.

Owns the walk over the chain of eras from a good one to a bad one (``Era.previous``), applying
the deltas one at a time (``Era.namespace(upto)``), an exhaustive check (the BFS engine,
:class:`khomc.engines.search.Search`) of one property at every step, and the report: every
verdict along the chain, the first commit whose verdict differs from the good end's, and the
traces on both sides of it.

Every prefix is checked (a linear walk, not a binary search): the ledgers are a dozen commits
long, and a property that flips twice (broken by one commit, fixed by a later one) is shown as
it is instead of being bisected to whichever flip a halving happens to hit.  A prefix on which
the scenario cannot be built (it calls a function a later commit adds) or whose search stops
before it is exhaustive is reported as such (UNKNOWN, with the reason), never as a verdict.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from . import registry
from .engines.result import Bounds, Verdict
from .engines.search import Search
from .runtime.spec import _bool


class BisectError(ValueError):
    """Bad input: unknown era, good not an ancestor of bad, unknown property."""


@dataclass
class Step:
    """One prefix of the ledger: the era, how many of its own deltas are applied, the commit
    just applied (None at the good end), and what the check said."""

    era: str
    upto: int
    commit: str | None
    subject: str
    verdict: Verdict
    detail: str
    distinct: int = 0
    trace: object = None
    trace_path: str | None = None

    @property
    def label(self) -> str:
        return f"{self.era}+{self.upto}" if self.commit else self.era


@dataclass
class BisectResult:
    good: str
    bad: str
    scenario: str
    prop: str
    steps: list = field(default_factory=list)

    @property
    def first_flip(self) -> int | None:
        """Index of the first step whose (known) verdict differs from the good end's."""
        if not self.steps or self.steps[0].verdict is Verdict.UNKNOWN:
            return None
        base = self.steps[0].verdict
        for i, s in enumerate(self.steps[1:], 1):
            if s.verdict is Verdict.UNKNOWN:
                return None
            if s.verdict is not base:
                return i
        return None

    @property
    def culprit(self) -> Step | None:
        i = self.first_flip
        return self.steps[i] if i is not None else None

    @property
    def unknown(self) -> list:
        return [s for s in self.steps if s.verdict is Verdict.UNKNOWN]

    def changes(self) -> list:
        """(before, after) for every step whose verdict differs from the step before it."""
        out = []
        for a, b in zip(self.steps, self.steps[1:]):
            if a.verdict is not b.verdict:
                out.append((a, b))
        return out

    def render(self) -> str:
        lines = [f"khomc bisect {self.scenario} {self.prop}: {self.good} (good) .. "
                 f"{self.bad} (bad), {len(self.steps)} prefixes, each checked exhaustively"]
        for s in self.steps:
            what = f"{s.commit} {s.subject}" if s.commit else "(the good era as is)"
            lines.append(f"  {s.label:<12} {str(s.verdict):<9} {what}: {s.detail}")
        c = self.culprit
        if c is not None:
            before = self.steps[self.first_flip - 1]
            lines.append(f"first commit that flips {self.prop}: {c.commit} {c.subject} "
                         f"({before.verdict} -> {c.verdict})")
            for side in (before, c):
                where = side.trace_path or "no trace (no counterexample or witness)"
                lines.append(f"  trace at {side.label}: {where}")
        elif self.unknown:
            lines.append("no commit named: " + "; ".join(
                f"{s.label}: {s.detail}" for s in self.unknown))
        else:
            lines.append(f"no commit flips {self.prop}: {self.steps[0].verdict} throughout")
        return "\n".join(lines) + "\n"


def chain(good, bad) -> list:
    """The eras from *good* (exclusive) to *bad* (inclusive), oldest first."""
    out = []
    era = bad
    while era is not None and era is not good:
        out.append(era)
        era = era.previous
    if era is None:
        raise BisectError(f"{good.name} is not an ancestor of {bad.name}: "
                          f"{bad.name}'s chain is {' <- '.join(e.name for e in _walk(bad))}")
    return list(reversed(out))


def _walk(era):
    while era is not None:
        yield era
        era = era.previous


def _era_of(spec: str):
    try:
        mod = registry.spec_module(spec)
    except registry.UnknownName as exc:
        raise BisectError(exc.args[0]) from None
    era = getattr(mod, "ERA", None)
    if era is None or not hasattr(era, "namespace"):
        raise BisectError(f"spec {spec!r} has no commit ledger (no ERA): it cannot be bisected")
    return era


def _check(sc, params, kernel, prop, bounds, label, trace_dir, scenario):
    try:
        model = sc.build(kernel=kernel, **params)
    except AttributeError as exc:
        return Verdict.UNKNOWN, f"the scenario cannot be built on this prefix ({exc})", 0, None, None
    model.params = params
    if prop not in {p.name for p in model.properties} | {"assertions", "deadlock-free",
                                                         "terminates"}:
        raise BisectError(f"unknown property {prop!r} of {scenario}; known: "
                          + ", ".join(p.name for p in model.properties))
    r = Search(model, "bfs", bounds, progress=False).run()
    p = r.property(prop)
    if not r.exhaustive and p.verdict is not Verdict.VIOLATED:
        return Verdict.UNKNOWN, f"search stopped ({r.stop}) after {r.distinct:,} states", \
            r.distinct, None, None
    path = None
    if p.trace is not None and trace_dir:
        name = f"bisect-{scenario}-{prop}-{label}.json".replace("+", "-")
        path = str(p.trace.save(Path(trace_dir) / name))
    return p.verdict, p.message, r.distinct, p.trace, path


def bisect(good_spec: str, bad_spec: str, scenario: str, prop: str, params: dict | None = None,
           max_states: int | None = None, trace_dir: str | None = None,
           spec: str | None = None) -> BisectResult:
    """Check *prop* of *scenario* (from *spec*, default *bad_spec*) on the good era and on every
    prefix of the ledger up to the bad era."""
    good, bad = _era_of(good_spec), _era_of(bad_spec)
    eras = chain(good, bad)
    try:
        sc = registry.scenario(spec or bad_spec, scenario)
    except registry.UnknownName as exc:
        raise BisectError(exc.args[0]) from None
    merged = dict(sc.params)
    for k, v in (params or {}).items():
        if k not in merged:
            raise BisectError(f"scenario {scenario!r} has no parameter {k!r} "
                              f"(it has: {', '.join(sorted(merged)) or 'none'})")
        merged[k] = _bool(v) if isinstance(merged[k], bool) else type(merged[k])(v)
    bounds = Bounds(max_states=max_states)
    result = BisectResult(good.name, bad.name, scenario, prop)
    points = [(good, len(good.deltas), None)]
    for era in eras:
        for upto in range(1, len(era.deltas) + 1):
            points.append((era, upto, era.deltas[upto - 1]))
    for era, upto, delta in points:
        label = f"{era.name}+{upto}" if delta else era.name
        v, detail, distinct, trace, path = _check(sc, merged, era.namespace(upto), prop, bounds,
                                                  label, trace_dir, scenario)
        result.steps.append(Step(era.name, upto, delta.commit if delta else None,
                                 delta.subject if delta else "", v, detail, distinct, trace,
                                 path))
    return result


@dataclass
class Flip:
    """A verdict change a single commit causes: *delta* applied to the prefix before it turns
    *prop* from *before* to *after* (both exhaustive)."""

    era: str
    delta: object
    prop: str
    before: Verdict
    after: Verdict


def ledger_flips(spec: str, scenario: str, max_states: int | None = None):
    """Every verdict change along *spec*'s own deltas, for every property of *scenario* at its
    default bounds: the previous era, then each prefix of this era's ledger, one exhaustive
    check each.  Returns ``(flips, None)``, or ``(flips so far, reason)`` when a prefix could
    not be built or its search was cut by *max_states* (the review then reports the era step
    as a whole)."""
    era = _era_of(spec)
    if era.previous is None:
        return [], f"{spec} has no previous era in its ledger"
    sc = registry.scenario(spec, scenario)
    bounds = Bounds(max_states=max_states)
    points = [(era.previous, len(era.previous.deltas), None)]
    points += [(era, upto, era.deltas[upto - 1]) for upto in range(1, len(era.deltas) + 1)]
    flips, last = [], None
    for e, upto, delta in points:
        try:
            model = sc.build(kernel=e.namespace(upto), **dict(sc.params))
        except (AttributeError, TypeError) as exc:
            return flips, f"{e.name}+{upto} cannot build {scenario} ({exc})"
        r = Search(model, "bfs", bounds, progress=False).run()
        if not r.exhaustive:
            return flips, f"{e.name}+{upto}: search stopped ({r.stop}) after {r.distinct:,} states"
        now = {p.name: p.verdict for p in r.properties}
        if last is not None:
            for name, v in now.items():
                if name in last and last[name] is not v:
                    flips.append(Flip(e.name, delta, name, last[name], v))
        last = now
    return flips, None
