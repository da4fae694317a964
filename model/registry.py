"""Which specs and scenarios exist: the names ``khomc list`` prints and ``khomc check`` takes.

Owns the lookup from a spec name to its module (each module lists ``SCENARIOS``) and the
one-line errors for unknown names.
"""

from __future__ import annotations

import importlib

from .runtime.spec import Model, ParamError, Scenario

SPECS = {
    "counter": "khomc.examples.counter",
    "spinkho": "khomc.examples.spinkho",
    "v4": "khomc.scenarios.v4",
    "v5": "khomc.scenarios.v5",
    "v5-recursive": "khomc.scenarios.v5_recursive",
    "v5-anchor": "khomc.scenarios.v5_anchor",
    "k6.16": "khomc.scenarios.k6_16",
    "k6.17": "khomc.scenarios.k6_17",
    "k6.18": "khomc.scenarios.k6_18",
    "k6.19": "khomc.scenarios.k6_19",
    "k7.1": "khomc.scenarios.k7_1",
    "mainline-2026-04": "khomc.scenarios.mainline_2026_04",
}


class UnknownName(LookupError):
    """An unknown spec, scenario or parameter; the message names what exists."""


def spec_module(spec: str):
    if spec not in SPECS:
        raise UnknownName(f"unknown spec {spec!r}; known specs: {', '.join(SPECS)}")
    return importlib.import_module(SPECS[spec])


def scenarios(spec: str) -> list[Scenario]:
    return list(spec_module(spec).SCENARIOS)


def scenario(spec: str, name: str) -> Scenario:
    for s in scenarios(spec):
        if s.name == name:
            return s
    known = ", ".join(s.name for s in scenarios(spec))
    raise UnknownName(f"unknown scenario {name!r} of spec {spec!r}; known: {known}")


def check_params(spec: str, name: str, params: dict | None = None) -> dict:
    """The scenario's full parameters with *params* parsed and range-checked (no model built);
    UnknownName with one line for an unknown name or a value outside its declared range."""
    sc = scenario(spec, name)
    if params is not None and not isinstance(params, dict):
        raise UnknownName(f"scenario {spec}/{name}: parameters must be a mapping, not "
                          f"{type(params).__name__}")
    try:
        return sc.check_params(params)
    except KeyError as exc:
        raise UnknownName(f"{spec}: {exc.args[0]}") from None
    except ParamError as exc:
        raise UnknownName(f"{spec}: {exc}") from None


def build(spec: str, name: str, params: dict | None = None) -> Model:
    sc = scenario(spec, name)
    checked = check_params(spec, name, params)
    try:
        return sc.instantiate(checked)
    except ValueError as exc:
        raise UnknownName(f"scenario {spec}/{name}: bad parameter value ({exc})") from None
