"""Coverage of a search: await points (effects) of the model code never reached.

Owns SPIN's "unreached in proctype" for khomc.  Every ``await`` in a task's code is an effect a
task can block or run on; the task table records each local state it reached, with the code
position of every frame in its await chain.  Comparing those positions with all the await
points of the model functions the tasks ran (and everything they called) lists the effects no
explored run executed - dead code, or a scenario too narrow to exercise a path.
"""

from __future__ import annotations

import dis
import functools
from types import CodeType

_YIELD = dis.opmap["YIELD_VALUE"]


def _await_points(code: CodeType) -> set[int]:
    lines = set()
    for ins in dis.get_instructions(code):
        if ins.opcode == _YIELD and ins.positions and ins.positions.lineno:
            lines.add(ins.positions.lineno)
    return lines


@functools.lru_cache(maxsize=None)
def _lines(code: CodeType) -> dict[int, int | None]:
    return {ins.offset: (ins.positions.lineno if ins.positions else None)
            for ins in dis.get_instructions(code)}


def _line_of(code: CodeType, lasti: int) -> int | None:
    return _lines(code).get(lasti)


def reached(table) -> dict[CodeType, set[int]]:
    """Code object -> lines of the await points some task was suspended at."""
    seen: dict[CodeType, set[int]] = {}
    for key in table.key_of:
        if len(key) < 5 or not isinstance(key[4], tuple):
            continue
        for part in key[4]:
            code, lasti = part[0], part[1]
            line = _line_of(code, lasti)
            if line is not None:
                seen.setdefault(code, set()).add(line)
    return seen


def _module_async_codes(modules) -> list[CodeType]:
    import inspect
    codes = []
    for mod in modules:
        for _name, obj in vars(mod).items():
            fn = getattr(obj, "__wrapped__", None) or getattr(obj, "fn", None) or obj
            if inspect.iscoroutinefunction(fn) and fn.__module__ == mod.__name__:
                codes.append(fn.__code__)
    return codes


def unreached(model) -> list[tuple[str, int, str]]:
    """(file, line, function) of the await points never reached, in the functions of the
    tasks' modules that some task entered (or started in)."""
    import sys
    table = model.table
    modules = {sys.modules[t.fn.__module__] for t in model.tasks}
    seen = reached(table)
    by_name = {(c.co_filename, c.co_name): lines for c, lines in seen.items()}
    entered = set(by_name) | {(t.fn.__code__.co_filename, t.fn.__code__.co_name)
                              for t in model.tasks if hasattr(t.fn, "__code__")}
    out = []
    for code in _module_async_codes(modules):
        if (code.co_filename, code.co_name) not in entered:
            continue        # a function of the module this scenario never runs
        hit = by_name.get((code.co_filename, code.co_name), set())
        for line in sorted(_await_points(code) - hit):
            out.append((code.co_filename.rsplit("/", 1)[-1], line, code.co_name))
    return sorted(out)
