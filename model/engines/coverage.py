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


def _yields(code: CodeType) -> bool:
    return any(ins.opcode == _YIELD for ins in dis.get_instructions(code))


def _callees_by_line(code: CodeType) -> dict[int, str]:
    """Line -> the name of the last function or method loaded on it (the awaited callee)."""
    out: dict[int, str] = {}
    for ins in dis.get_instructions(code):
        if ins.opname in ("LOAD_GLOBAL", "LOAD_ATTR", "LOAD_METHOD", "LOAD_NAME", "LOAD_DEREF") \
                and ins.positions and ins.positions.lineno and isinstance(ins.argval, str):
            out[ins.positions.lineno] = ins.argval
    return out


def _never_suspends(name: str, owners, modules) -> bool:
    """Every coroutine function *name* can resolve to (an attribute of the tasks' argument
    types, else a module global) awaits nothing: awaiting it is no effect, the task never
    suspends there, so the line is not an await point a search can reach."""
    import inspect
    found = []
    for owner in owners:
        fn = getattr(owner, name, None)
        if fn is not None:
            found.append(fn)
    if not found:
        for mod in modules:
            fn = vars(mod).get(name)
            if fn is not None:
                found.append(fn)
    codes = []
    for fn in found:
        fn = getattr(fn, "__func__", fn)
        if not inspect.iscoroutinefunction(fn):
            return False
        codes.append(fn.__code__)
    return bool(codes) and not any(_yields(c) for c in codes)


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
    owners = {type(a) for t in model.tasks for a in t.args}
    all_modules = [m for n, m in list(sys.modules.items()) if n.startswith("khomc.") and m]
    out = []
    for code in _module_async_codes(modules):
        if (code.co_filename, code.co_name) not in entered:
            continue        # a function of the module this scenario never runs
        hit = by_name.get((code.co_filename, code.co_name), set())
        callees = _callees_by_line(code)
        for line in sorted(_await_points(code) - hit):
            callee = callees.get(line)
            if callee and _never_suspends(callee, owners, all_modules):
                continue    # awaits a coroutine that awaits nothing: not an effect
            out.append((code.co_filename.rsplit("/", 1)[-1], line, code.co_name))
    return sorted(out)
