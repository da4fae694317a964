"""Counterexamples as SVG sequence diagrams.

Owns the drawing: one vertical lane per task (a CPU in the kernel's terms) on the left, one lane
per shared object the shown steps touch on the right, time flowing down.  Each effect is an
arrow: task -> object for an effect that may change the object (a write, a lock taken), object
-> task for one that only observed it (a read, with the value), and a note on the task's lane
for an effect that touches no shared object (a choice).  Deciding steps are highlighted; steps
before *first* are folded into one line.  The drawing is at most ``MAX_WIDTH`` pixels wide: lanes
narrow to fit, objects beyond the room left share an "other objects" lane, and lane names are
shortened to their last distinct components so no two lanes read alike.  Plain SVG, no scripts.
"""

from __future__ import annotations

import re
from html import escape

MAX_WIDTH = 1400
LANE = 150
MIN_LANE = 96
ROW = 22
TOP = 60
LEFT = 70
MAX_LANES = (MAX_WIDTH - LEFT - 20) // MIN_LANE
OTHER = "other objects"


def _lanes(trace, first: int = 0):
    tasks: list[str] = []
    objects: dict[str, int] = {}
    for s in trace.steps[first:]:
        if s.task not in tasks:
            tasks.append(s.task)
        for objs in (s.objects or []):
            if objs:                  # an effect's arrow goes to its first object
                objects[objs[0]] = objects.get(objs[0], 0) + 1
        if not s.objects:             # a trace without per-effect objects: what changed
            for o in s.changes:
                objects.setdefault(o, 0)
    room = max(1, MAX_LANES - len(tasks))
    ranked = sorted(objects, key=lambda o: -objects[o])
    if len(ranked) > room:
        keep = set(ranked[:room - 1])
        objs = [o for o in objects if o in keep] + [OTHER]
    else:
        objs = list(objects)
    return tasks, objs


def short_names(names: list[str], width: int) -> dict[str, str]:
    """Each name shortened to at most *width* characters, distinct from the others: the fewest
    trailing dotted components that tell it apart, then cut in the middle if still too long."""
    out: dict[str, str] = {}
    for name in names:
        parts = name.split(".")
        for k in range(1, len(parts) + 1):
            cand = ".".join(parts[-k:])
            if sum(1 for n in names if n != name and
                   ".".join(n.split(".")[-k:]) == cand) == 0:
                break
        if len(cand) > width:
            half = (width - 1) // 2
            cand = cand[:half] + "…" + cand[-(width - 1 - half):]
        out[name] = cand
    seen: dict[str, int] = {}
    for name in names:                       # any collision left after cutting: number them
        c = out[name]
        if c in seen or list(out.values()).count(c) > 1:
            seen[c] = seen.get(c, 0) + 1
            out[name] = f"{c[:width - 3]}#{seen[c]}"
    return out


def sequence_diagram(trace, title: str | None = None, first: int = 0, deciding=()) -> str:
    tasks, objects = _lanes(trace, first)
    lanes_all = tasks + objects
    n = max(1, len(lanes_all))
    lane = max(MIN_LANE, min(LANE, (MAX_WIDTH - LEFT - 20) // n))
    chars = max(8, (lane - 10) // 7)
    label = short_names(lanes_all, chars)
    lanes = {name: LEFT + lane // 2 + i * lane for i, name in enumerate(lanes_all)}
    deciding = set(deciding)
    rows = []
    for i, s in enumerate(trace.steps[first:], start=first + 1):
        objs_per_effect = s.objects or [[] for _ in s.effects]
        writes = s.writes or [bool(s.changes)] * len(s.effects)
        for j, ((lab, obs, _c), objs, w) in enumerate(zip(s.effects, objs_per_effect, writes)):
            rows.append((i if j == 0 else None, i, s.task, lab, obs, objs, w))
    width = min(MAX_WIDTH, LEFT + lane * n + 20)
    marker = "arrow-" + re.sub(r"[^A-Za-z0-9]+", "-",
                               f"{trace.spec}-{trace.scenario}-{trace.property}").strip("-")
    height = TOP + ROW * (len(rows) + 2) + (ROW if first else 0)
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
           f'viewBox="0 0 {width} {height}" font-family="monospace" font-size="11">',
           f'<defs><marker id="{marker}" markerWidth="8" markerHeight="8" refX="7" refY="4" '
           'orient="auto"><path d="M0,0 L8,4 L0,8 z"/></marker></defs>',
           f'<text x="10" y="16" font-size="13">{escape(title or _title(trace))}</text>']
    for name, x in lanes.items():
        kind = "task" if name in tasks else "object"
        fill = "#dde8ff" if kind == "task" else "#f3f3d0"
        out.append(f'<rect x="{x - lane // 2 + 4}" y="26" width="{lane - 8}" height="22" '
                   f'fill="{fill}" stroke="#555"/><g><title>{escape(name)}</title><text x="{x}" '
                   f'y="41" text-anchor="middle">{escape(label[name])}</text></g>')
        out.append(f'<line x1="{x}" y1="48" x2="{x}" y2="{height - 10}" stroke="#999" '
                   f'stroke-dasharray="4,3"/>')
    top = TOP
    if first:
        out.append(f'<text x="6" y="{top + 4}" fill="#666">steps 1-{first} (setup) folded</text>')
        top += ROW
    loop_row = None
    for r, (num, step_no, task, lab, obs, objs, wrote) in enumerate(rows):
        y = top + ROW * r + 10
        if step_no - 1 in deciding:
            out.append(f'<rect x="2" y="{y - 14}" width="{width - 4}" height="{ROW}" '
                       f'fill="#ffe08a" fill-opacity="0.5"/>')
        if num is not None:
            out.append(f'<text x="6" y="{y + 4}"'
                       + (' font-weight="bold"' if num - 1 in deciding else "")
                       + f'>{num}</text>')
            if trace.loop_start is not None and num - 1 == trace.loop_start:
                loop_row = y - 12
        tx = lanes[task]
        text = lab if obs == "None" else f"{lab} → {obs}"
        targets = [o for o in objs[:1] if o in lanes] or ([OTHER] if objs and OTHER in lanes
                                                          else [])
        if not targets:
            room = max(8, (width - tx - 10) // 7)
            out.append(f'<text x="{tx + 6}" y="{y + 4}">{escape(_cut(text, room))}</text>')
            continue
        ox = lanes[targets[0]]
        x1, x2 = (tx, ox) if wrote else (ox, tx)
        colour = "#b00" if wrote else "#036"
        out.append(f'<line x1="{x1}" y1="{y}" x2="{x2}" y2="{y}" stroke="{colour}" '
                   f'marker-end="url(#{marker})"/>')
        mid = (x1 + x2) / 2
        room = max(chars, int(max(abs(x2 - x1), lane) // 7))
        room = min(room, int(2 * min(mid, width - mid) // 7))
        out.append(f'<g><title>{escape(text)}</title><text x="{mid}" y="{y - 4}" '
                   f'text-anchor="middle" fill="{colour}">{escape(_cut(text, room))}</text></g>')
    if loop_row is not None:
        out.append(f'<rect x="2" y="{loop_row}" width="{width - 4}" '
                   f'height="{height - loop_row - 12}" fill="none" stroke="#c60" '
                   f'stroke-width="2"/><text x="{width - 8}" y="{loop_row + 12}" '
                   f'text-anchor="end" fill="#c60">loop: repeats forever</text>')
    out.append("</svg>")
    return "\n".join(out)


def _cut(text: str, n: int) -> str:
    return text if len(text) <= n else text[: max(1, n - 1)] + "…"


def _title(trace) -> str:
    return f"{trace.spec}/{trace.scenario}: {trace.property} {trace.verdict}"
