"""``khomc review``: check every default scenario of every spec and write the report.

Owns the review job: the matrix (scenario x property) with each verdict's bounds, engine and
numbers, the counterexample traces saved beside the report and rendered in it, and the two
output files ``REPORT.md`` (to paste into a mail) and ``index.html`` (to read in a browser).
"""

from __future__ import annotations

import html
import json
import time
from pathlib import Path

from .. import __version__, registry
from ..engines.result import Bounds, CheckResult, Verdict
from ..engines.search import Search


def _slug(text: str) -> str:
    import re
    return re.sub(r"[^A-Za-z0-9]+", "-", text).strip("-").lower()


def collect(specs, bounds: Bounds, engine: str, out, progress: bool) -> list[CheckResult]:
    jobs = [(spec, sc) for spec in specs for sc in registry.scenarios(spec) if sc.default]
    results = []
    for i, (spec, sc) in enumerate(jobs, start=1):
        out.write(f"[{i}/{len(jobs)}] {spec}/{sc.name} ... ")
        out.flush()
        model = sc.instantiate()
        r = Search(model, engine, bounds, progress=progress).run()
        results.append(r)
        out.write(f"{r.verdict} ({r.distinct:,} states, {r.seconds:.1f} s)\n")
        out.flush()
        if r.stop == "interrupted":
            break
    return results


def collect_parallel(specs, bounds: Bounds, engine: str, out, workers: int,
                     folder: Path) -> list[CheckResult]:
    """The same matrix, *workers* checks at a time in worker processes (trio coordinator)."""
    from ..engines.parallel import matrix
    pairs = [(spec, sc) for spec in specs for sc in registry.scenarios(spec) if sc.default]
    jobs = [{"spec": spec, "scenario": sc.name, "params": dict(sc.params), "engine": engine,
             "bounds": bounds.as_dict(), "trace_dir": str(folder / "traces")}
            for spec, sc in pairs]
    done = [0]

    def report(w):
        done[0] += 1
        r = w.result
        what = (f"{r.verdict} ({r.distinct:,} states, {r.seconds:.1f} s)" if r
                else f"FAILED: {w.error}")
        out.write(f"[{done[0]}/{len(jobs)}] {w.job['spec']}/{w.job['scenario']} ... {what}\n")
        out.flush()

    workers_done = matrix(jobs, workers, report)
    return [w.result for w in workers_done if w.result is not None]


def _save(results: list[CheckResult], folder: Path) -> None:
    for r in results:
        for p in r.properties:
            if p.trace is not None and p.verdict is Verdict.VIOLATED and not p.trace_path:
                name = f"{_slug(r.spec)}-{_slug(r.scenario)}-{_slug(p.name)}.json"
                p.trace_path = str(p.trace.save(folder / "traces" / name))


def markdown(results: list[CheckResult]) -> str:
    lines = [f"# khomc review", "", f"khomc {__version__}, {time.strftime('%Y-%m-%d %H:%M')}.",
             "HOLDS means every state within the stated bounds was explored; UNKNOWN means a "
             "budget ran out; VIOLATED comes with a trace that replays.", ""]
    for r in results:
        params = " ".join(f"{k}={v}" for k, v in r.params.items()) or "no parameters"
        lines += [f"## {r.spec} / {r.scenario}", "",
                  f"Bounds: {params}; engine {r.engine}, "
                  f"{'exhaustive' if r.exhaustive else 'stopped: ' + r.stop}; "
                  f"{r.distinct:,} distinct states, {r.transitions:,} transitions, depth "
                  f"{r.depth}, {r.seconds:.2f} s.", "",
                  "| property | kind | verdict | detail |", "|---|---|---|---|"]
        for p in r.properties:
            detail = p.message.replace("|", "\\|")
            if p.trace_path:
                detail += f" ([trace]({Path(p.trace_path).relative_to(Path(p.trace_path).parents[1])}))"
            lines.append(f"| {p.name} | {p.kind} | **{p.verdict}** | {detail} |")
        lines.append("")
        for p in r.properties:
            if p.trace is not None and p.verdict is Verdict.VIOLATED:
                lines += [f"### Counterexample: {p.name}", "", "```", p.trace.render().rstrip(),
                          "```", "",
                          f"Replay: `khomc replay {p.trace_path}`", ""]
    return "\n".join(lines) + "\n"


def page(results: list[CheckResult]) -> str:
    rows = []
    for r in results:
        for p in r.properties:
            link = ""
            if p.trace_path:
                rel = Path(p.trace_path).relative_to(Path(p.trace_path).parents[1])
                link = f' <a href="{html.escape(str(rel))}">trace</a>'
            rows.append(
                f"<tr><td>{html.escape(r.spec)}/{html.escape(r.scenario)}</td>"
                f"<td>{html.escape(p.name)}</td><td class='{p.verdict}'>{p.verdict}</td>"
                f"<td>{html.escape(p.message)}{link}</td>"
                f"<td>{r.engine}, {r.distinct:,} states</td></tr>")
    traces = []
    for r in results:
        for p in r.properties:
            if p.trace is not None and p.verdict is Verdict.VIOLATED:
                traces.append(f"<h3>{html.escape(r.spec)}/{html.escape(r.scenario)}: "
                              f"{html.escape(p.name)}</h3><pre>{html.escape(p.trace.render())}"
                              f"</pre><p>Replay: <code>khomc replay "
                              f"{html.escape(p.trace_path or '')}</code></p>")
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>khomc review</title>
<style>
body {{ font-family: sans-serif; margin: 2em; }}
table {{ border-collapse: collapse; }}
td, th {{ border: 1px solid #999; padding: 0.2em 0.6em; }}
.HOLDS {{ background: #cfc; }} .VIOLATED {{ background: #fcc; }} .UNKNOWN {{ background: #eee; }}
pre {{ background: #f6f6f6; padding: 0.5em; overflow-x: auto; }}
</style></head><body>
<h1>khomc review</h1>
<p>khomc {__version__}. HOLDS: every state within the bounds explored. UNKNOWN: a budget ran out.
VIOLATED: with a trace that replays.</p>
<table id="matrix"><tr><th>scenario</th><th>property</th><th>verdict</th><th>detail</th><th>evidence</th></tr>
{chr(10).join(rows)}
</table>
{chr(10).join(traces)}
</body></html>
"""


def run(args, out) -> int:
    specs = args.spec or list(registry.SPECS)
    for s in specs:
        registry.spec_module(s)  # unknown names fail before any work
    bounds = Bounds(args.max_states, args.max_depth, args.time_limit)
    folder = Path(args.out)
    folder.mkdir(parents=True, exist_ok=True)
    if args.workers > 1:
        results = collect_parallel(specs, bounds, args.engine, out, args.workers, folder)
    else:
        results = collect(specs, bounds, args.engine, out, progress=not args.no_progress)
    _save(results, folder)
    (folder / "REPORT.md").write_text(markdown(results))
    (folder / "index.html").write_text(page(results))
    (folder / "results.json").write_text(json.dumps([r.as_dict() for r in results], indent=1))
    out.write(f"wrote {folder / 'REPORT.md'} and {folder / 'index.html'}\n")
    interrupted = any(r.stop == "interrupted" for r in results)
    return 130 if interrupted else 0
