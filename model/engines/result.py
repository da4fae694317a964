"""Verdicts and check results: what every engine returns and every report prints.

Owns the honesty rules.  HOLDS is given only when the search exhausted every state within its
bounds; VIOLATED only with a trace; everything else is UNKNOWN with the reason.  A result always
carries its numbers (distinct states, transitions, depth, time, rate), its engine and its bounds.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any


class Verdict(str, enum.Enum):
    HOLDS = "HOLDS"
    VIOLATED = "VIOLATED"
    UNKNOWN = "UNKNOWN"

    def __str__(self) -> str:
        return self.value


EXIT_CODES = {Verdict.HOLDS: 0, Verdict.VIOLATED: 1, Verdict.UNKNOWN: 3}


@dataclass
class Bounds:
    """Budgets of a search.  None means unbounded."""

    max_states: int | None = None
    max_depth: int | None = None
    time_limit: float | None = None

    def as_dict(self) -> dict:
        return {"max_states": self.max_states, "max_depth": self.max_depth,
                "time_limit": self.time_limit}


@dataclass
class PropertyResult:
    name: str
    kind: str
    verdict: Verdict
    message: str = ""
    doc: str = ""
    trace: Any = None          # khomc.trace.Trace for VIOLATED (and sometimes-witnesses)
    trace_path: str | None = None


@dataclass
class CheckResult:
    spec: str
    scenario: str
    params: dict
    engine: str
    bounds: Bounds
    distinct: int = 0
    transitions: int = 0
    depth: int = 0
    seconds: float = 0.0
    stop: str = "exhausted"   # exhausted | max-states | max-depth | time-limit | interrupted | first
    reductions: list[str] = field(default_factory=list)
    properties: list[PropertyResult] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    bytes_per_state: float | None = None        # peak RSS growth / distinct states
    collision_probability: float | None = None  # compact (fingerprint) searches only
    unreached: list = field(default_factory=list)  # await points never reached [file, line, fn]

    @property
    def exhaustive(self) -> bool:
        return self.stop == "exhausted"

    @property
    def states_per_s(self) -> float:
        return self.distinct / self.seconds if self.seconds > 0 else 0.0

    @property
    def transitions_per_s(self) -> float:
        return self.transitions / self.seconds if self.seconds > 0 else 0.0

    @property
    def verdict(self) -> Verdict:
        """The overall verdict: VIOLATED if any property is, HOLDS if all do, else UNKNOWN."""
        verdicts = [p.verdict for p in self.properties]
        if Verdict.VIOLATED in verdicts:
            return Verdict.VIOLATED
        if verdicts and all(v is Verdict.HOLDS for v in verdicts):
            return Verdict.HOLDS
        return Verdict.UNKNOWN

    def property(self, name: str) -> PropertyResult:
        for p in self.properties:
            if p.name == name:
                return p
        raise KeyError(name)

    def as_dict(self) -> dict:
        return {
            "spec": self.spec, "scenario": self.scenario, "params": self.params,
            "engine": self.engine, "bounds": self.bounds.as_dict(), "stop": self.stop,
            "exhaustive": self.exhaustive, "reductions": self.reductions,
            "distinct_states": self.distinct, "transitions": self.transitions,
            "depth": self.depth, "seconds": round(self.seconds, 3),
            "states_per_s": round(self.states_per_s, 1), "verdict": str(self.verdict),
            "notes": self.notes, "bytes_per_state": self.bytes_per_state,
            "collision_probability": self.collision_probability,
            "unreached": [list(u) for u in self.unreached],
            "properties": [
                {"name": p.name, "kind": p.kind, "verdict": str(p.verdict),
                 "message": p.message, "trace": p.trace_path, "doc": p.doc}
                for p in self.properties
            ],
        }

    @classmethod
    def from_dict(cls, d: dict) -> "CheckResult":
        """The inverse of :meth:`as_dict` (traces are loaded from their saved paths)."""
        from ..trace import Trace
        r = cls(d["spec"], d["scenario"], d["params"], d["engine"], Bounds(**d["bounds"]),
                distinct=d["distinct_states"], transitions=d["transitions"], depth=d["depth"],
                seconds=d["seconds"], stop=d["stop"], reductions=list(d["reductions"]),
                notes=list(d["notes"]), bytes_per_state=d.get("bytes_per_state"),
                collision_probability=d.get("collision_probability"),
                unreached=[tuple(u) for u in d.get("unreached", [])])
        for p in d["properties"]:
            pr = PropertyResult(p["name"], p["kind"], Verdict(p["verdict"]), p["message"],
                                p.get("doc", ""), trace_path=p.get("trace"))
            if pr.trace_path:
                pr.trace = Trace.load(pr.trace_path)
            r.properties.append(pr)
        return r
