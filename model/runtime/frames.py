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


def is_clean(code: CodeType, lasti: int) -> bool:
    """True when a frame suspended at *lasti* keeps nothing on its stack but the awaitable."""
    return yield_depths(code).get(lasti) == CLEAN_DEPTH
