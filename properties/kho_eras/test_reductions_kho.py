"""Reductions keep every verdict on the default KHO scenarios of every era.

Fingerprints (``compact``) and partial-order reduction (``por``) are compared with the plain
exhaustive search on each default scenario: same distinct states for fingerprints, never more
for POR, the same verdict for every property (POR leaves ``terminates`` UNKNOWN: the reduced
graph is not the full one).  Scenarios over 50,000 states run only with ``-m slow``.
"""

import pytest

from model import registry
from model.engines.result import Verdict
from model.engines.search import check

KHO_SPECS = [s for s in registry.SPECS if s not in ("counter", "spinkho")]
BIG = {("k6.16", "fdbox-race"), ("k6.18", "fdbox-race")}


def cases():
    for spec in KHO_SPECS:
        for sc in registry.scenarios(spec):
            if sc.default:
                marks = [pytest.mark.slow] if (spec, sc.name) in BIG else []
                yield pytest.param(spec, sc.name, marks=marks, id=f"{spec}-{sc.name}")


def verdicts(r):
    return {p.name: p.verdict for p in r.properties}


@pytest.mark.parametrize("spec,scenario", list(cases()))
def test_reductions_preserve_verdicts(spec, scenario):
    plain = check(registry.build(spec, scenario, {}))
    fp = check(registry.build(spec, scenario, {}), compact=True)
    por = check(registry.build(spec, scenario, {}), por=True)
    assert (fp.distinct, fp.transitions) == (plain.distinct, plain.transitions)
    assert verdicts(fp) == verdicts(plain)
    assert por.distinct <= plain.distinct
    v, w = verdicts(plain), verdicts(por)
    assert w.pop("terminates") is Verdict.UNKNOWN
    v.pop("terminates")
    assert w == v
