"""Counterexamples as SVG sequence diagrams.

Owns the drawing: one vertical lane per task (a CPU in the kernel's terms) on the left, one lane
per shared object the trace touches on the right, time flowing down.  Each effect is an arrow:
task -> object for an effect that changed the object (a write, a lock taken), object -> task
for one that only observed it (a read, with the value), and a note on the task's lane for an
effect that touches no shared object (a choice).  A lasso's loop is bracketed.  Plain SVG, no
scripts, so it renders anywhere (and in a mail client that shows images).
"""

from __future__ import annotations

from html import escape

LANE = 150
ROW = 26
TOP = 60


def _lanes(trace):
    tasks = list(trace.tasks)
    objects: list[str] = []
    for s in trace.steps:
        for name in [s.task] + s.spawned:
            if name not in tasks:
                tasks.append(name)
        for objs in (s.objects or []):
            for o in objs:
                if o not in objects:
                    objects.append(o)
        for o in s.changes:
            if o not in objects:
                objects.append(o)
    return tasks, objects


def sequence_diagram(trace, title: str | None = None) -> str:
    tasks, objects = _lanes(trace)
    lanes = {name: 80 + i * LANE for i, name in enumerate(tasks + objects)}
    rows = []
    for i, s in enumerate(trace.steps, start=1):
        objs_per_effect = s.objects or [[] for _ in s.effects]
        writes = s.writes or [bool(s.changes)] * len(s.effects)
        for j, ((label, obs, _c), objs, w) in enumerate(zip(s.effects, objs_per_effect, writes)):
            rows.append((i if j == 0 else None, s.task, label, obs, objs, w))
    width = 80 + LANE * max(1, len(tasks) + len(objects))
    height = TOP + ROW * (len(rows) + 2)
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
           f'font-family="monospace" font-size="11">',
           '<defs><marker id="arrow" markerWidth="8" markerHeight="8" refX="7" refY="4" '
           'orient="auto"><path d="M0,0 L8,4 L0,8 z"/></marker></defs>',
           f'<text x="10" y="16" font-size="13">{escape(title or _title(trace))}</text>']
    for name, x in lanes.items():
        kind = "task" if name in tasks else "object"
        fill = "#dde8ff" if kind == "task" else "#f3f3d0"
        out.append(f'<rect x="{x - 65}" y="26" width="130" height="22" fill="{fill}" '
                   f'stroke="#555"/><text x="{x}" y="41" text-anchor="middle">'
                   f'{escape(name[:18])}</text>')
        out.append(f'<line x1="{x}" y1="48" x2="{x}" y2="{height - 10}" stroke="#999" '
                   f'stroke-dasharray="4,3"/>')
    loop_row = None
    for r, (num, task, label, obs, objs, wrote) in enumerate(rows):
        y = TOP + ROW * r + 10
        if num is not None:
            out.append(f'<text x="6" y="{y + 4}">{num}</text>')
            if trace.loop_start is not None and num - 1 == trace.loop_start:
                loop_row = y - 12
        tx = lanes[task]
        text = label if obs == "None" else f"{label} → {obs}"
        targets = [o for o in objs if o in lanes]
        if not targets:
            out.append(f'<text x="{tx + 6}" y="{y + 4}">{escape(text[:60])}</text>')
            continue
        ox = lanes[targets[0]]
        x1, x2 = (tx, ox) if wrote else (ox, tx)
        colour = "#b00" if wrote else "#036"
        out.append(f'<line x1="{x1}" y1="{y}" x2="{x2}" y2="{y}" stroke="{colour}" '
                   f'marker-end="url(#arrow)"/>')
        mid = (x1 + x2) / 2
        out.append(f'<text x="{mid}" y="{y - 4}" text-anchor="middle" fill="{colour}">'
                   f'{escape(text[:48])}</text>')
    if loop_row is not None:
        out.append(f'<rect x="2" y="{loop_row}" width="{width - 4}" '
                   f'height="{height - loop_row - 12}" fill="none" stroke="#c60" '
                   f'stroke-width="2"/><text x="{width - 8}" y="{loop_row + 12}" '
                   f'text-anchor="end" fill="#c60">loop: repeats forever</text>')
    out.append("</svg>")
    return "\n".join(out)


def _title(trace) -> str:
    return f"{trace.spec}/{trace.scenario}: {trace.property} {trace.verdict}"
