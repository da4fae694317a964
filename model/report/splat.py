"""Counterexamples as kernel-style splats (lockdep's "Possible unsafe locking scenario").

Owns the text a kernel developer pastes into a mail: a ``BUG:``/``WARNING:`` header naming the
property and what it means, the scenario as two or more CPU columns (one per task that took a
step) in the order the steps happened - every line in full, the deciding steps marked ``=>``,
setup steps before *first* folded into one line - the state changes of the shown steps as diffs
of named fields, and a final line that says VIOLATED (``*** DEADLOCK: deadlock-free VIOLATED
***``), so a splat never reads like an all-clear.
"""

from __future__ import annotations

HEADERS = {
    "deadlock": ("WARNING: possible circular locking dependency detected", "DEADLOCK"),
    "termination": ("WARNING: a task can run forever without finishing", "LIVELOCK"),
    "assertions": ("BUG: an assertion in the model failed", "BUG"),
}


COLUMN = 56
OBS = 60
CHANGES = 6         # state-change lines shown; the deciding steps' come first


def _step_of(line: str) -> int:
    return int(line.split()[1])


def _obs(obs: str) -> str:
    """An observed value, cut when it is a long structure (the effect's label never is)."""
    return obs if len(obs) <= OBS else obs[:OBS - 1] + "…"


def footer(trace) -> str:
    tail = HEADERS.get(trace.kind, (None, None))[1]
    return (f" *** {tail}: {trace.property} VIOLATED ***" if tail
            else f" *** {trace.property} VIOLATED ***")


def splat(trace, first: int = 0, deciding=(), diffs=None) -> str:
    """The splat of *trace*; steps before index *first* are folded; *deciding* (0-based) are
    marked; *diffs* maps a step index to its field-diff lines (default: the recorded changes)."""
    who = "KHO: " if not trace.spec.startswith(("counter", "spinkho")) else ""
    head = HEADERS.get(trace.kind, (f"BUG: {who}{trace.property} violated", None))[0]
    bar = "-" * max(len(head), 30)
    shown = list(enumerate(trace.steps))[first:]
    cpus: list[str] = []
    for _, s in shown:
        if s.task not in cpus:
            cpus.append(s.task)
    texts = [[(label if obs == "None" else f"{label} = {_obs(obs)}") + ";"
              for label, obs, _c in s.effects] for _, s in shown]
    # one effect per row, so a line longer than its column runs on into the empty ones
    width = min(COLUMN, max([len(f"CPU{len(cpus)} ({c})") for c in cpus]
                            + [len(t) for ts in texts for t in ts] + [10])) + 2
    deciding = set(deciding)
    lines = ["=" * len(bar), head, f"khomc {trace.spec} {trace.scenario} "
             + " ".join(f"{k}={v}" for k, v in trace.params.items()), bar,
             f"{trace.property}: {trace.message}", "", " Possible scenario:", ""]
    if first:
        lines.append(f"       (steps 1-{first} folded: setup)")
    lines += ["       " + "".join(f"CPU{i} ({c})".ljust(width) for i, c in enumerate(cpus)).rstrip(),
              "       " + "".join("----".ljust(width) for _ in cpus).rstrip()]
    for (n, s), ts in zip(shown, texts):
        if trace.loop_start is not None and n == trace.loop_start:
            lines.append("  <loop: the steps below repeat forever>")
        col = cpus.index(s.task)
        for j, text in enumerate(ts):
            mark = "=>" if n in deciding and j == 0 else "  "
            num = f"{n + 1:>3}" if j == 0 else "   "
            lines.append(f"{mark}{num}  " + ("".ljust(width * col) + text).rstrip())
    for task, why in trace.waits:
        col = cpus.index(task) if task in cpus else len(cpus) - 1
        lines.append("       " + ("".ljust(width * col) + why.split(" sleeps")[0] + ";").rstrip()
                     + "   <- sleeps forever")
    changes, rest = [], []
    for n, s in shown:
        got = diffs.get(n) if diffs is not None else [f"{k}: {a} -> {b}"
                                                      for k, (a, b) in s.changes.items()]
        for d in got or ():
            (changes if n in deciding or not deciding else rest).append(
                f"  step {n + 1} ({s.task}): {d}")
    # the deciding steps' changes first, then the others up to CHANGES lines in all
    changes = changes[:CHANGES] if deciding else rest[:CHANGES]
    hidden = sum(1 for n, s in shown for _ in (diffs.get(n) if diffs is not None
                                                else s.changes) or ()) - len(changes)
    if changes:
        lines += ["", " State changes" + (" (of the deciding steps first):" if deciding
                                          else ":")] + sorted(changes, key=_step_of)
        if hidden > 0:
            lines.append(f"  ({hidden} more changes of the other steps: see the trace)")
    lines += ["", footer(trace), ""]
    return "\n".join(lines)
