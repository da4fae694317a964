"""Static stack depths at the suspension points of model coroutines.

Owns one question the task table asks when it fingerprints a suspended task: at this ``await``,
does the frame's value stack hold anything besides the awaited object?  If it does (a ``for``
iterator, half an expression, an ``async with`` exit), that hidden value is not visible in
``f_locals``, so the frame's (code position, locals) pair does not determine its future and the
task table must fall back to the frame's observation history.  If it does not, the pair is a
complete description of the frame, exactly like a Promela process's (pc, locals).

The depth is computed by a flow analysis over the bytecode with ``dis.stack_effect``; the "clean"
depth is calibrated at import time on a reference coroutine, so the rule does not hard-code one
CPython version's bytecode.  No kernel version: this is machinery.
"""

from __future__ import annotations

import dis
import functools
from types import CodeType

_YIELD = dis.opmap["YIELD_VALUE"]
_JUMPS = frozenset(dis.hasjrel) | frozenset(dis.hasjabs)
_NO_FALLTHROUGH = frozenset(
    dis.opmap[name]
    for name in (
        "RETURN_VALUE", "RAISE_VARARGS", "RERAISE", "JUMP_FORWARD", "JUMP_BACKWARD",
        "JUMP_BACKWARD_NO_INTERRUPT", "JUMP_ABSOLUTE", "RETURN_CONST",
    )
    if name in dis.opmap
)


def _exception_handlers(code: CodeType) -> list[tuple[int, int]]:
    """(handler offset, stack depth on entry) for each exception-table entry."""
    parse = getattr(dis, "_parse_exception_table", None)
    if parse is None:  # pragma: no cover - CPython < 3.11 has no exception table
        return []
    return [(e.target, e.depth + (1 if e.lasti else 0) + 1) for e in parse(code)]


@functools.lru_cache(maxsize=None)
def yield_depths(code: CodeType) -> dict[int, int]:
    """Map each YIELD_VALUE offset of *code* to the stack depth just before it runs.

    Offsets that the analysis cannot reach get no entry; callers treat them as unknown (and so
    as "not clean"), which is the sound choice.
    """
    instructions = list(dis.get_instructions(code))
    index = {ins.offset: i for i, ins in enumerate(instructions)}
    depth_at: dict[int, int] = {}
    work = [(0, 0)] + _exception_handlers(code)
    while work:
        offset, depth = work.pop()
        i = index.get(offset)
        while i is not None:
            ins = instructions[i]
            seen = depth_at.get(ins.offset)
            if seen is not None and seen >= depth:
                break
            depth_at[ins.offset] = depth
            op, arg = ins.opcode, ins.arg
            has_arg = op >= dis.HAVE_ARGUMENT
            if op in _JUMPS:
                target_depth = depth + dis.stack_effect(op, arg if has_arg else None, jump=True)
                work.append((ins.argval, target_depth))
                depth += dis.stack_effect(op, arg if has_arg else None, jump=False)
            else:
                depth += dis.stack_effect(op, arg if has_arg else None)
            if op in _NO_FALLTHROUGH:
                break
            i = i + 1 if i + 1 < len(instructions) else None
    return {ins.offset: depth_at[ins.offset]
            for ins in instructions if ins.opcode == _YIELD and ins.offset in depth_at}


class _Probe:
    def __await__(self):
        return (yield self)


async def _reference():
    x = await _Probe()
    return x


def _calibrate() -> int:
    depths = set(yield_depths(_reference.__code__).values())
    if len(depths) != 1:  # pragma: no cover - would mean an unknown bytecode shape
        raise RuntimeError(f"cannot calibrate await stack depth: {depths}")
    return depths.pop()


CLEAN_DEPTH = _calibrate()


def _local_effects(ins) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(locals read, locals killed) by one instruction; unknown *FAST* opcodes only read."""
    name = ins.opname
    if "FAST" not in name:
        return (), ()
    names = ins.argval if isinstance(ins.argval, tuple) else (ins.argval,)
    if name in ("STORE_FAST", "DELETE_FAST", "STORE_FAST_STORE_FAST"):
        return (), names
    if name == "STORE_FAST_LOAD_FAST":
        return names[1:], names[:1]
    return names, ()


@functools.lru_cache(maxsize=None)
def live_locals(code: CodeType) -> dict[int, frozenset[str]]:
    """Map each YIELD_VALUE offset of *code* to the locals that may be read after it resumes.

    A backward liveness analysis over the bytecode (with exception handlers as successors of
    every instruction they cover).  A local that is dead at a suspension point cannot influence
    the task's future, so leaving it out of the task's key merges states that only differ in
    leftovers (SPIN calls this dead variable elimination).  Cell and free variables are never
    dropped (an inner function may read them).
    """
    instructions = list(dis.get_instructions(code))
    index = {ins.offset: i for i, ins in enumerate(instructions)}
    n = len(instructions)
    handlers = []
    parse = getattr(dis, "_parse_exception_table", None)
    for e in (parse(code) if parse else []):
        handlers.append((e.start, e.end, index.get(e.target)))
    succ: list[list[int]] = [[] for _ in range(n)]
    for i, ins in enumerate(instructions):
        if ins.opcode not in _NO_FALLTHROUGH and i + 1 < n:
            succ[i].append(i + 1)
        if ins.opcode in _JUMPS and ins.argval in index:
            succ[i].append(index[ins.argval])
        for start, end, target in handlers:
            if target is not None and start <= ins.offset < end:
                succ[i].append(target)
    uses, kills = zip(*(_local_effects(ins) for ins in instructions)) if n else ((), ())
    live_in: list[frozenset] = [frozenset()] * n
    changed = True
    while changed:
        changed = False
        for i in range(n - 1, -1, -1):
            out = frozenset().union(*(live_in[j] for j in succ[i])) if succ[i] else frozenset()
            new = frozenset(uses[i]) | (out - frozenset(kills[i]))
            if new != live_in[i]:
                live_in[i] = new
                changed = True
    keep = frozenset(code.co_cellvars) | frozenset(code.co_freevars)
    return {ins.offset: live_in[i] | keep
            for i, ins in enumerate(instructions) if ins.opcode == _YIELD}


def is_clean(code: CodeType, lasti: int) -> bool:
    """True when a frame suspended at *lasti* keeps nothing on its stack but the awaitable."""
    return yield_depths(code).get(lasti) == CLEAN_DEPTH


@functools.lru_cache(maxsize=None)
def key_names(code: CodeType, lasti: int) -> tuple[str, ...] | None:
    """The locals of a frame suspended at *lasti* that its key holds, in the code's own order
    (``co_varnames``, then cell and free variables): never in ``f_locals``' insertion order,
    which depends on when each local was first seen.  None when *lasti* is no await point the
    liveness analysis knows (every local is kept then)."""
    order = code.co_varnames + code.co_cellvars + code.co_freevars
    wanted = live_locals(code).get(lasti)
    names = order if wanted is None else tuple(n for n in order if n in wanted)
    return tuple(dict.fromkeys(names))


def hidden_depth(code: CodeType, lasti: int) -> int | None:
    """How many values a frame suspended at *lasti* holds on its stack below the awaited
    object (0 for a clean await), or None when the analysis does not know the point."""
    d = yield_depths(code).get(lasti)
    return None if d is None else d - CLEAN_DEPTH
