"""Counterexamples as kernel-style splats (lockdep's "Possible unsafe locking scenario").

Owns the text a kernel developer pastes into a mail: a ``BUG:``/``WARNING:`` header naming the
property and what it means, the scenario as two or more CPU columns (one per task that took a
step) in the order the steps happened, the state changes that matter, and the final line in
lockdep's style (``*** DEADLOCK ***``, ``*** LOST PRESERVATION ***``, ...).
"""

from __future__ import annotations

HEADERS = {
    "deadlock": ("WARNING: possible circular locking dependency detected", "DEADLOCK"),
    "termination": ("WARNING: a task can run forever without finishing", "LIVELOCK"),
    "assertions": ("BUG: an assertion in the model failed", "BUG"),
}


def splat(trace, width: int = 34) -> str:
    head, tail = HEADERS.get(trace.kind, (f"BUG: KHO: {trace.property} violated",
                                          trace.property.upper().replace("-", " ")))
    bar = "-" * max(len(head), 54)
    cpus = []
    for s in trace.steps:
        if s.task not in cpus:
            cpus.append(s.task)
    lines = ["=" * len(bar), head, f"khomc {trace.spec} {trace.scenario} "
             + " ".join(f"{k}={v}" for k, v in trace.params.items()), bar,
             f"{trace.property}: {trace.message}", "",
             " Possible scenario:", "",
             "".join(f"       CPU{i} ({c})".ljust(width + 7) for i, c in enumerate(cpus)).rstrip(),
             "".join("       ----".ljust(width + 7) for _ in cpus).rstrip()]
    for n, s in enumerate(trace.steps):
        if trace.loop_start is not None and n == trace.loop_start:
            lines.append("  <loop: the steps below repeat forever>")
        col = cpus.index(s.task)
        for label, obs, _c in s.effects:
            text = (label if obs == "None" else f"{label} = {obs}") + ";"
            lines.append(("".ljust((width + 7) * col) + "  " + text[:width + 4]).rstrip())
    for task, why in trace.waits:
        col = cpus.index(task) if task in cpus else len(cpus) - 1
        lines.append(("".ljust((width + 7) * col) + "  " + why.split(" sleeps")[0] + ";").rstrip()
                     + "   <- sleeps forever")
    if any(s.changes for s in trace.steps):
        lines += ["", " State changes:"]
        for n, s in enumerate(trace.steps, start=1):
            for k, (a, b) in s.changes.items():
                lines.append(f"  step {n} ({s.task}): {k}: {a} -> {b}")
    lines += ["", f" *** {tail} ***", ""]
    return "\n".join(lines)
