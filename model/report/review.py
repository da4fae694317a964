"""``khomc review``: check every default scenario of every spec (era) and write the report.

Owns the review job and its two outputs, ``REPORT.md`` (to paste into a mail) and
``index.html`` (to read in a browser; SVG inline, no scripts):

* the matrix, era x property: the worst verdict over the era's scenarios, with bounds and engine,
  linked to the scenario it comes from;
* per era, what changed from the era before (the spec module's ``PREVIOUS`` and ``CHANGES``)
  and which verdicts changed on scenarios both have;
* per scenario, every property's verdict with its numbers, and for each counterexample a
  lockdep-style splat, an SVG sequence diagram, the numbered state changes and the command that
  replays it;
* coverage: await points (effects) of the model code no explored run reached, and ``sometimes``
  properties that were vacuous.
"""

from __future__ import annotations

import html
import json
import re
import sys
import time
from pathlib import Path

from .. import __version__, registry
from ..engines.result import Bounds, CheckResult, Verdict
from ..engines.search import Search
from .splat import splat
from .svg import sequence_diagram

ORDER = {Verdict.VIOLATED: 0, Verdict.UNKNOWN: 1, Verdict.HOLDS: 2}


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "-", text).strip("-").lower()


def _jobs(specs, names=None):
    """(spec, scenario) pairs: the default scenarios, or those named in *names*."""
    return [(spec, sc) for spec in specs for sc in registry.scenarios(spec)
            if (sc.name in names if names else sc.default)]


def collect(specs, bounds: Bounds, engine: str, out, progress: bool,
            names=None) -> list[CheckResult]:
    jobs = _jobs(specs, names)
    results = []
    for i, (spec, sc) in enumerate(jobs, start=1):
        out.write(f"[{i}/{len(jobs)}] {spec}/{sc.name} ... ")
        out.flush()
        r = Search(sc.instantiate(), engine, bounds, progress=progress).run()
        results.append(r)
        out.write(f"{r.verdict} ({r.distinct:,} states, {r.seconds:.1f} s)\n")
        out.flush()
        if r.stop == "interrupted":
            break
    return results


def collect_parallel(specs, bounds: Bounds, engine: str, out, workers: int,
                     folder: Path, names=None) -> tuple[list[CheckResult], list[str]]:
    """The same matrix, *workers* checks at a time in worker processes (trio coordinator)."""
    from ..engines.parallel import matrix
    pairs = _jobs(specs, names)
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

    ws = matrix(jobs, workers, report)
    failures = [f"{w.job['spec']}/{w.job['scenario']}: {w.error or 'cancelled'}"
                for w in ws if w.result is None]
    return [w.result for w in ws if w.result is not None], failures


def _save(results: list[CheckResult], folder: Path) -> None:
    for r in results:
        for p in r.properties:
            if p.trace is not None and p.verdict is Verdict.VIOLATED and not p.trace_path:
                name = f"{_slug(r.spec)}-{_slug(r.scenario)}-{_slug(p.name)}.json"
                p.trace_path = str(p.trace.save(folder / "traces" / name))
            if p.trace is not None and p.verdict is Verdict.VIOLATED:
                svg = Path(p.trace_path).with_suffix(".svg")
                svg.write_text(sequence_diagram(p.trace))


def _rel(path: str, folder: Path) -> str:
    try:
        return str(Path(path).resolve().relative_to(folder.resolve()))
    except ValueError:
        return path


# -- the model of the report ------------------------------------------------------------------

def matrix_cells(results):
    """{spec: {property: (verdict, scenario, result)}} with the worst verdict per cell."""
    cells: dict[str, dict[str, tuple]] = {}
    for r in results:
        row = cells.setdefault(r.spec, {})
        for p in r.properties:
            old = row.get(p.name)
            if old is None or ORDER[p.verdict] < ORDER[old[0]]:
                row[p.name] = (p.verdict, r.scenario, r)
    return cells


def _matrix_rows(cells, props):
    """(era, [cell or None per property]) in matrix order; a cell is (verdict, scenario, result)."""
    for spec, row in cells.items():
        yield spec, [row.get(name) for name in props]


def era_changes(results) -> list[tuple[str, str, str, list[str]]]:
    """(era, previous era, what changed, [verdict changes]) for eras that name a PREVIOUS."""
    by_spec: dict[str, dict] = {}
    for r in results:
        by_spec.setdefault(r.spec, {})[r.scenario] = r
    out = []
    for spec in by_spec:
        mod = registry.spec_module(spec)
        prev = getattr(mod, "PREVIOUS", None)
        if not prev:
            continue
        diffs = []
        for sc, r in by_spec[spec].items():
            old = by_spec.get(prev, {}).get(sc)
            if old is None:
                continue
            before = {p.name: p.verdict for p in old.properties}
            for p in r.properties:
                if p.name in before and before[p.name] is not p.verdict:
                    diffs.append(f"{sc} / {p.name}: {before[p.name]} in {prev} -> "
                                 f"{p.verdict} in {spec}")
        out.append((spec, prev, getattr(mod, "CHANGES", "").strip(), diffs))
    return out


# -- Markdown ------------------------------------------------------------------------------------

def markdown(results, folder: Path, failures=()) -> str:
    props = _property_names(results)
    cells = matrix_cells(results)
    lines = ["# khomc review", "",
             f"khomc {__version__}, {time.strftime('%Y-%m-%d %H:%M')}. HOLDS: every state within "
             "the stated bounds was explored. UNKNOWN: a budget ran out. VIOLATED: with a trace "
             "that replays (command given).", "", "## Matrix (era × property)", "",
             "| era | " + " | ".join(props) + " |", "|---" * (len(props) + 1) + "|"]
    for spec, row in _matrix_rows(cells, props):
        cols = ["" if c is None else f"[{c[0]}](#{_slug(spec + '-' + c[1])}) ({c[1]}, "
                f"{c[2].engine})" for c in row]
        lines.append(f"| {spec} | " + " | ".join(cols) + " |")
    lines.append("")
    for f in failures:
        lines.append(f"\nA check failed to run: {f}")
    changes = era_changes(results)
    if changes:
        lines += ["", "## What changed, era by era", ""]
        for spec, prev, what, diffs in changes:
            lines += [f"### {prev} → {spec}", "", what or "(no description)", ""]
            lines += [f"- {d}" for d in diffs] or ["- no verdict changed on shared scenarios"]
            lines.append("")
    for r in results:
        lines += _scenario_md(r, folder)
    lines += ["## Coverage", ""]
    for r in results:
        vac = [p.name for p in r.properties
               if p.kind == "sometimes" and p.verdict is Verdict.VIOLATED]
        if r.unreached or vac:
            lines.append(f"- **{r.spec}/{r.scenario}**: " + "; ".join(
                [f"vacuous: {', '.join(vac)}"] * bool(vac)
                + [f"never reached: {', '.join(f'{f}:{l} ({fn})' for f, l, fn in r.unreached)}"]
                * bool(r.unreached)))
    return "\n".join(lines) + "\n"


def _scenario_md(r: CheckResult, folder: Path) -> list[str]:
    params = " ".join(f"{k}={v}" for k, v in r.params.items()) or "no parameters"
    lines = [f"## {r.spec} / {r.scenario}", "", f'<a id="{_slug(r.spec + "-" + r.scenario)}"></a>',
             "", f"Bounds: {params}; engine {r.engine}, "
             f"{'exhaustive' if r.exhaustive else 'stopped: ' + r.stop}; {r.distinct:,} distinct "
             f"states, {r.transitions:,} transitions, depth {r.depth}, {r.seconds:.2f} s.", "",
             "| property | kind | verdict | detail |", "|---|---|---|---|"]
    for p in r.properties:
        detail = p.message.replace("|", "\\|")
        if p.trace_path and p.verdict is Verdict.VIOLATED:
            detail += f" ([trace]({_rel(p.trace_path, folder)}))"
        lines.append(f"| {p.name} | {p.kind} | **{p.verdict}** | {detail} |")
    lines.append("")
    for p in r.properties:
        if p.trace is not None and p.verdict is Verdict.VIOLATED:
            svg = _rel(str(Path(p.trace_path).with_suffix(".svg")), folder)
            lines += [f"### {r.scenario}: {p.name}", "", p.doc, "", "```",
                      splat(p.trace).rstrip(), "```", "", f"![sequence diagram]({svg})", "",
                      "<details><summary>steps and state changes</summary>", "", "```",
                      p.trace.render().rstrip(), "```", "</details>", "",
                      f"Replay: `khomc replay {p.trace_path}`", ""]
    return lines


def _property_names(results) -> list[str]:
    """The matrix columns: the promises several eras share (a guard that only one era's
    scenarios declare stays in that scenario's own table)."""
    names: list[str] = []
    specs: dict[str, set] = {}
    for r in results:
        for p in r.properties:
            specs.setdefault(p.name, set()).add(r.spec)
            if p.name not in names:
                names.append(p.name)
    shared = [n for n in names if len(specs[n]) > 1]
    return shared or names


# -- HTML ----------------------------------------------------------------------------------------

CSS = """
body { font-family: sans-serif; margin: 2em; max-width: 1400px; }
table { border-collapse: collapse; margin: 1em 0; }
td, th { border: 1px solid #999; padding: 0.2em 0.6em; vertical-align: top; }
.HOLDS { background: #cfc; } .VIOLATED { background: #fcc; } .UNKNOWN { background: #eee; }
pre { background: #f6f6f6; padding: 0.5em; overflow-x: auto; }
svg { border: 1px solid #ccc; margin: 0.5em 0; }
"""


def page(results, folder: Path, failures=()) -> str:
    e = html.escape
    props = _property_names(results)
    cells = matrix_cells(results)
    head = "".join(f"<th>{e(n)}</th>" for n in props)
    rows = []
    for spec, row in _matrix_rows(cells, props):
        tds = ["<td></td>" if c is None else
               f'<td class="{c[0]}"><a href="#{_slug(spec + "-" + c[1])}">{c[0]}</a>'
               f"<br><small>{e(c[1])}, {e(c[2].engine)}, {c[2].distinct:,} states</small></td>"
               for c in row]
        rows.append(f"<tr><th>{e(spec)}</th>{''.join(tds)}</tr>")
    body = [f"<h1>khomc review</h1><p>khomc {__version__}. HOLDS: every state within the "
            "bounds explored. UNKNOWN: a budget ran out. VIOLATED: with a trace that replays.</p>",
            f'<h2>Matrix (era × property)</h2><table id="matrix"><tr><th>era</th>{head}</tr>'
            + "".join(rows) + "</table>"]
    body += [f"<p>A check failed to run: {e(f)}</p>" for f in failures]
    changes = era_changes(results)
    if changes:
        body.append("<h2>What changed, era by era</h2>")
        for spec, prev, what, diffs in changes:
            items = "".join(f"<li>{e(d)}</li>" for d in diffs) or \
                "<li>no verdict changed on shared scenarios</li>"
            body.append(f"<h3>{e(prev)} → {e(spec)}</h3><p>{e(what)}</p><ul>{items}</ul>")
    for r in results:
        body.append(_scenario_html(r, folder))
    cov = []
    for r in results:
        vac = [p.name for p in r.properties
               if p.kind == "sometimes" and p.verdict is Verdict.VIOLATED]
        if r.unreached or vac:
            cov.append(f"<li><b>{e(r.spec)}/{e(r.scenario)}</b>: "
                       + (f"vacuous: {e(', '.join(vac))}; " if vac else "")
                       + e(", ".join(f"{f}:{l} ({fn})" for f, l, fn in r.unreached)) + "</li>")
    body.append("<h2>Coverage</h2><p>Await points (effects) no explored run reached, and "
                "vacuous properties.</p><ul>" + "".join(cov) + "</ul>")
    return ("<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>khomc review</title><style>{CSS}</style></head><body>\n"
            + "\n".join(body) + "\n</body></html>\n")


def _scenario_html(r: CheckResult, folder: Path) -> str:
    e = html.escape
    params = " ".join(f"{k}={v}" for k, v in r.params.items()) or "no parameters"
    rows = "".join(
        f"<tr><td>{e(p.name)}</td><td>{e(p.kind)}</td><td class=\"{p.verdict}\">{p.verdict}</td>"
        f"<td>{e(p.message)}"
        + (f' <a href="{e(_rel(p.trace_path, folder))}">trace</a>'
           if p.trace_path and p.verdict is Verdict.VIOLATED else "") + "</td></tr>"
        for p in r.properties)
    parts = [f'<h2 id="{_slug(r.spec + "-" + r.scenario)}">{e(r.spec)} / {e(r.scenario)}</h2>',
             f"<p>Bounds: {e(params)}; engine {e(r.engine)}, "
             f"{'exhaustive' if r.exhaustive else 'stopped: ' + e(r.stop)}; {r.distinct:,} "
             f"distinct states, {r.transitions:,} transitions, depth {r.depth}, "
             f"{r.seconds:.2f} s.</p>",
             f"<table><tr><th>property</th><th>kind</th><th>verdict</th><th>detail</th></tr>"
             f"{rows}</table>"]
    for p in r.properties:
        if p.trace is not None and p.verdict is Verdict.VIOLATED:
            parts += [f"<h3>{e(r.scenario)}: {e(p.name)}</h3><p>{e(p.doc)}</p>",
                      f"<pre>{e(splat(p.trace))}</pre>", sequence_diagram(p.trace),
                      f"<details><summary>steps and state changes</summary><pre>"
                      f"{e(p.trace.render())}</pre></details>",
                      f"<p>Replay: <code>khomc replay {e(p.trace_path or '')}</code></p>"]
    return "\n".join(parts)


def run(args, out) -> int:
    specs = args.spec or list(registry.SPECS)
    for s in specs:
        registry.spec_module(s)  # unknown names fail before any work
    bounds = Bounds(args.max_states, args.max_depth, args.time_limit)
    names = args.scenario or None
    if names:
        known = {sc.name for spec in specs for sc in registry.scenarios(spec)}
        unknown = sorted(set(names) - known)
        if unknown:
            raise registry.UnknownName(f"unknown scenario(s) {', '.join(unknown)} in "
                                       f"{', '.join(specs)}")
    folder = Path(args.out)
    folder.mkdir(parents=True, exist_ok=True)
    failures: list[str] = []
    if args.workers > 1:
        results, failures = collect_parallel(specs, bounds, args.engine, out, args.workers,
                                             folder, names)
    else:
        results = collect(specs, bounds, args.engine, out, progress=not args.no_progress,
                          names=names)
    _save(results, folder)
    (folder / "REPORT.md").write_text(markdown(results, folder, failures))
    (folder / "index.html").write_text(page(results, folder, failures))
    (folder / "results.json").write_text(json.dumps([r.as_dict() for r in results], indent=1))
    out.write(f"wrote {folder / 'REPORT.md'} and {folder / 'index.html'}\n")
    for f in failures:
        sys.stderr.write(f"khomc: a check failed: {f}\n")
    if any(r.stop == "interrupted" for r in results):
        return 130
    return 2 if failures else 0
