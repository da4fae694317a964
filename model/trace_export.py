"""Trace exports: Apalache's ITF JSON of a replayed run, and a standalone pytest regression test.

Owns ``khomc replay TRACE --itf FILE`` and ``--pytest FILE`` (with or without ``--against ERA``).

ITF (the Informal Trace Format, https://apalache-mc.org/docs/adr/015adr-trace.html) is what
Apalache, Quint and their model-based-testing libraries read: ``{"#meta": ..., "vars": [...],
"states": [{"#meta": {"index": i}, var: value, ...}], "loop": k}``.  The states are the replayed
states (the trace's own era, or the target era's mapped run), one per step plus the initial
state; ``vars`` are the scenario's shared variables plus two the tool adds, ``khomc::step`` (who
ran what to reach the state: "init" for the first) and ``khomc::pending`` (each task's next
effect, or "finished").  Python values map to ITF as follows:

* ``bool`` and ``str`` as themselves; ``int`` as a JSON number when |n| < 2**53, else
  ``{"#bigint": "n"}``;
* ``tuple`` as ``{"#tup": [...]}``, ``list`` as a JSON array (an ITF sequence), ``frozenset``/
  ``set`` as ``{"#set": [...]}``, ``dict`` as ``{"#map": [[k, v], ...]}`` (sets and maps sorted
  by their encoded elements, so the output is deterministic);
* named tuples, dataclasses and slotted objects as records (a JSON object of their fields);
* ``None`` as the variant ``{"tag": "None", "value": {}}`` (Quint's ``Option`` encoding);
* ``bytes`` as a ``"0x..."`` hex string (ITF has no byte strings; FDT blobs stay readable);
* a model handle (``Var``) as its name; anything else (functions, types) as
  ``{"#unserializable": "<name>"}``.

The pytest file embeds the whole trace as a Python literal and replays it with khomc's own
replay, asserting the recorded verdict (or, with ``--against``, the GONE/STILL/CANNOT APPLY
answer, so a fix stays fixed); it needs only khomc installed.
"""

from __future__ import annotations

import dataclasses
import json
import pprint
import re
from pathlib import Path
from typing import Any

from . import __version__
from .runtime.effects import Var
from .trace import Trace

ITF_ADR = "https://apalache-mc.org/docs/adr/015adr-trace.html"
MAX_SAFE = 2 ** 53 - 1


def itf_value(v: Any) -> Any:
    """One Python value of the world in ITF.

    >>> itf_value((1, frozenset({3, 2}), None))
    {'#tup': [1, {'#set': [2, 3]}, {'tag': 'None', 'value': {}}]}
    >>> itf_value(2 ** 64), itf_value({"a": b"\\x7fE"})
    ({'#bigint': '18446744073709551616'}, {'#map': [['a', '0x7f45']]})
    """
    if v is None:
        return {"tag": "None", "value": {}}
    if isinstance(v, bool) or isinstance(v, str):
        return v
    if isinstance(v, int):
        return v if -MAX_SAFE <= v <= MAX_SAFE else {"#bigint": str(v)}
    if isinstance(v, (bytes, bytearray)):
        return "0x" + bytes(v).hex()
    if isinstance(v, Var):
        return v.name
    if isinstance(v, tuple) and hasattr(v, "_fields"):
        return {f: itf_value(getattr(v, f)) for f in v._fields}
    if isinstance(v, tuple):
        return {"#tup": [itf_value(x) for x in v]}
    if isinstance(v, list):
        return [itf_value(x) for x in v]
    if isinstance(v, (set, frozenset)):
        return {"#set": sorted((itf_value(x) for x in v), key=_order)}
    if isinstance(v, dict):
        return {"#map": sorted(([itf_value(k), itf_value(x)] for k, x in v.items()),
                               key=_order)}
    if dataclasses.is_dataclass(v) and not isinstance(v, type):
        return {f.name: itf_value(getattr(v, f.name)) for f in dataclasses.fields(v)}
    slots = [s for c in type(v).__mro__ for s in getattr(c, "__slots__", ())
             if not s.startswith("__")]
    if slots and not callable(v):
        return {s: itf_value(getattr(v, s, None)) for s in slots}
    name = getattr(v, "__qualname__", None) or type(v).__name__
    return {"#unserializable": str(name)}


def _order(x) -> str:
    return json.dumps(x, sort_keys=True)


def itf(trace: Trace, model, states: list, steps: list, loop: int | None = None,
        era: str | None = None) -> dict:
    """The ITF document of a replayed run: *states* (engine states) and the *steps* between."""
    table = model.table
    names = [v.name for v in model.vars]
    extra = ["khomc::step", "khomc::pending"]
    out_states = []
    for i, state in enumerate(states):
        world = model.describe_world(state[0])
        d: dict = {"#meta": {"index": i}}
        for k in names:
            d[k] = itf_value(world[k])
        if i == 0:
            d["khomc::step"] = "init"
        else:
            s = steps[i - 1]
            d["khomc::step"] = f"{s.task}: " + "; ".join(label for label, _, _ in s.effects)
        d["khomc::pending"] = {"#map": [
            [table.name[lid], "finished" if table.pending[lid] is None
             else table.pending[lid].label()] for lid in state[1]]}
        out_states.append(d)
    where = f"{trace.spec}/{trace.scenario}" + (f" replayed against {era}" if era else "")
    doc = {"#meta": {"format": "ITF", "format-description": ITF_ADR,
                     "source": f"khomc {where}",
                     "description": f"{trace.property} ({trace.kind}) {trace.verdict}: "
                                    f"{trace.message}",
                     "khomc": {"tool": f"khomc {__version__}", "spec": era or trace.spec,
                               "trace_spec": trace.spec, "scenario": trace.scenario,
                               "params": dict(model.params), "property": trace.property,
                               "verdict": trace.verdict}},
           "vars": names + extra, "states": out_states}
    if loop is not None:
        doc["loop"] = loop
    return doc


def write_itf(path: str | Path, doc: dict) -> Path:
    path = Path(path)
    path.write_text(json.dumps(doc, indent=1) + "\n")
    return path


# -- pytest -----------------------------------------------------------------------------------

def _ident(text: str) -> str:
    return re.sub(r"[^0-9A-Za-z]+", "_", text).strip("_").lower() or "trace"


def pytest_source(trace: Trace, against: str | None = None, outcome: str | None = None,
                  step: int | None = None, origin: str = "") -> str:
    """A standalone pytest module that replays *trace*'s schedule and asserts its verdict (or,
    given *against*, the replay-against *outcome* at *step*)."""
    name = _ident(f"{trace.spec}_{trace.scenario}_{trace.property}")
    params = " ".join(f"{k}={v}" for k, v in trace.params.items())
    schedule = "\n".join(f"#   {i:3d}  {s.task}: {s.effects[0][0] if s.effects else ''}"
                         + (f"  (choices {list(s.choices)})" if s.choices else "")
                         for i, s in enumerate(trace.steps, start=1))
    literal = pprint.pformat(trace.as_json(), indent=1, width=99, sort_dicts=False)
    cmd = f"khomc replay {origin or 'TRACE'}" + (f" --against {against}" if against else "") \
        + " --pytest FILE"
    head = (f'"""Regression test written by `{cmd}` (khomc {__version__}).\n\n'
            f"{trace.spec} {trace.scenario} {params}: property {trace.property!r} "
            f"({trace.kind}) {trace.verdict}\n  {trace.message}\n\n")
    if against:
        head += (f"The {len(trace.steps)}-step schedule, mapped onto {against} by task role and "
                 f"kernel function, must stay {outcome}"
                 + (f" at step {step}" if outcome == "CANNOT APPLY" else "") + '.\n"""\n')
        body = f'''

def test_{name}_against_{_ident(against)}():
    result = replay_against(Trace.from_json(TRACE), {against!r})
    assert (result.outcome, result.step if result.outcome == "CANNOT APPLY" else None) == \\
        ({outcome!r}, {step if outcome == "CANNOT APPLY" else None!r}), result.line()
'''
        imports = ("from khomc.trace import Trace\n"
                   "from khomc.trace_against import replay_against\n")
    else:
        head += (f"Replays the {len(trace.steps)}-step schedule on {trace.spec}, every step checked "
                 "against its record, and asserts the recorded verdict reproduces.\n\"\"\"\n")
        body = f'''

def test_{name}_reproduces():
    trace = Trace.from_json(TRACE)
    result = replay(trace, build(trace.spec, trace.scenario, trace.params))
    assert result.divergence is None, result.message
    assert result.reproduced, result.message
'''
        imports = "from khomc.registry import build\nfrom khomc.trace import Trace, replay\n"
    return (head + "\n" + imports + "\n# The schedule (task: first effect of the step):\n"
            + schedule + "\n\nTRACE = " + literal + "\n" + body)


def write_pytest(path: str | Path, source: str) -> Path:
    path = Path(path)
    path.write_text(source)
    return path
