"""``khomc review``: check every default scenario of every spec (era) and write the report.

Owns the review job and its two outputs, ``REPORT.md`` (to paste into a mail; kept small: one
screen per violation) and ``index.html`` (the same, with the long parts folded in
``<details>``; SVG inline, no scripts):

* the matrix, kernel era x property: each cell counts the era's scenarios that declare the
  property by verdict ("VIOLATED in 2 of 6"), links to the first violating one, and a legend says
  what a blank means; the toy examples (``khomc.examples``) get their own matrix;
* verdict changes per commit: rows ``(commit, subject, scenario, property, before, after)``
  rendered by :func:`render_verdict_changes`; until the commit ledger feeds it, the rows come
  from the era-to-era comparison (the spec module's ``PREVIOUS`` and ``CHANGES``), one "commit"
  per era;
* one compact table of every check with its bounds and numbers;
* per violation: what broke and the deciding steps (:mod:`khomc.report.explain`), a
  lockdep-style splat with the deciding steps marked and the setup folded, the state changes as
  diffs of named fields, an SVG sequence diagram that fits 1,400 px, and the replay command;
* the properties' meanings, once; coverage: await points (effects) no explored run reached, and
  ``sometimes`` properties that were vacuous.

The job itself: progress on the terminal (:mod:`khomc.report.progress`), Ctrl-C writes the
partial report (checks not finished are UNKNOWN cells) and exits 130, ``--expect FILE`` compares
every verdict with an expected matrix (exit 1 when one differs) and ``--write-expect FILE``
writes this run's matrix in that format.  Exit codes: 0 the report was written (violations are
findings, not failures of the job), 1 a verdict differs from ``--expect``, 2 a check failed to
run or bad input, 130 interrupted.
"""

from __future__ import annotations

import html
import json
import re
import sys
import time
from pathlib import Path

from .. import __version__, registry
from ..engines.result import Bounds, CheckResult, PropertyResult, Verdict
from ..engines.search import Search
from .explain import explain, field_diffs, replay_states
from .splat import splat
from .svg import sequence_diagram

ORDER = {Verdict.VIOLATED: 0, Verdict.UNKNOWN: 1, Verdict.HOLDS: 2}
EXPECT_FORMAT = "khomc-expect"
EXPECT_VERSION = 1
EXIT_OK, EXIT_DIFFERS, EXIT_FAILED, EXIT_INTERRUPTED = 0, 1, 2, 130
LEGEND = ("Each cell counts the era's scenarios that declare the property, by verdict "
          "(\"VIOLATED in 2 of 6\": 2 of the 6 scenarios that check it violate it); the link goes "
          "to the first violation. A blank cell (—) means no default scenario of that era "
          "declares the property. HOLDS: every state within the stated bounds was explored. "
          "UNKNOWN: a budget ran out, or the check was interrupted. VIOLATED: with a trace that "
          "replays (command given).")


DECIDING = ("Each violation says what broke, read from the trace's last state, and its "
            "deciding steps: the fewest steps whose reordering - one step moved later or "
            "earlier past other tasks' steps, or one task held back until the others finish - "
            "was replayed on the spec and makes the property hold in every state of the run. "
            "They are marked => in the splat and highlighted in the diagram; the setup steps "
            "before them are folded (the trace file has them all).")


class ExpectError(Exception):
    """A --expect file that cannot be used (one line, exit 2)."""


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "-", str(text)).strip("-").lower()


def bounds_tag(params: dict, bounds: Bounds | None = None) -> str:
    """The parameters and search bounds of a check as a file-name part ("pages8-fail-allocs0")."""
    parts = [f"{k}{v}" for k, v in params.items() if str(v) != ""]
    if bounds is not None:
        for short, v in (("ms", bounds.max_states), ("md", bounds.max_depth),
                         ("tl", bounds.time_limit)):
            if v is not None:
                parts.append(f"{short}{v:g}" if isinstance(v, float) else f"{short}{v}")
    return _slug("-".join(parts)) or "default"


def trace_name(r: CheckResult, prop: str) -> str:
    return f"{_slug(r.spec)}-{_slug(r.scenario)}-{_slug(prop)}-{bounds_tag(r.params, r.bounds)}"


def is_example(spec: str) -> bool:
    return ".examples." in registry.SPECS.get(spec, "")


def _jobs(specs, names=None):
    """(spec, scenario) pairs: the default scenarios, or those named in *names*."""
    return [(spec, sc) for spec in specs for sc in registry.scenarios(spec)
            if (sc.name in names if names else sc.default)]


def placeholder(spec: str, sc, engine: str, bounds: Bounds, why: str) -> CheckResult:
    """The result of a check that did not run to its end: every property UNKNOWN."""
    r = CheckResult(spec, sc.name, dict(sc.params), engine, bounds, stop="interrupted")
    try:
        props = sc.instantiate().properties
    except Exception:                     # pragma: no cover - a scenario that cannot build
        props = []
    r.properties = [PropertyResult(p.name, p.kind, Verdict.UNKNOWN, why, p.doc) for p in props]
    return r


def collect(specs, bounds: Bounds, engine: str, progress, names=None,
            options: dict | None = None) -> tuple[list[CheckResult], bool]:
    """Run the checks one after the other; (results, interrupted)."""
    import signal
    options = options or {}
    jobs = _jobs(specs, names)
    results = []
    interrupted = False
    flag = []

    def on_sigint(signum, frame):       # between searches (a search has its own handler)
        flag.append(signum)
    try:
        old = signal.signal(signal.SIGINT, on_sigint)
    except ValueError:                  # not the main thread
        old = None
    try:
        results, interrupted = _serial(jobs, bounds, engine, progress, options, flag)
    finally:
        if old is not None:
            signal.signal(signal.SIGINT, old)
    return results, interrupted


def _serial(jobs, bounds, engine, progress, options, flag):
    results = []
    interrupted = False
    for spec, sc in jobs:
        interrupted = interrupted or bool(flag)
        if interrupted:
            results.append(placeholder(spec, sc, engine, bounds, "not run: interrupted"))
            continue
        key = f"{spec}/{sc.name}"
        try:
            progress.start(key)
            search = Search(sc.instantiate(), engine, bounds, progress=True,
                            stop_at_first=options.get("first", False),
                            compact=options.get("compact", False),
                            symmetry=options.get("symmetry", False) or sc.symmetry)
            search.progress.report = (lambda d, rate, depth, f, key=key:
                                      progress.update(key, d, rate))
            r = search.run()
        except KeyboardInterrupt:       # between two searches: nothing of this check is kept
            r = placeholder(spec, sc, engine, bounds, "not run: interrupted")
        results.append(r)
        progress.finish(key, r)
        if r.stop == "interrupted":
            interrupted = True
    return results, interrupted


def collect_parallel(specs, bounds: Bounds, engine: str, progress, workers: int,
                     folder: Path, names=None, options: dict | None = None):
    """The same matrix, *workers* checks at a time in worker processes (trio coordinator);
    (results, failures, interrupted)."""
    from ..engines.parallel import review_matrix
    options = options or {}
    pairs = _jobs(specs, names)
    jobs = [{"spec": spec, "scenario": sc.name, "params": dict(sc.params), "engine": engine,
             "bounds": bounds.as_dict(), "trace_dir": str(folder / "traces"),
             "tag": "-" + bounds_tag(sc.params, bounds), **options,
             "symmetry": options.get("symmetry", False) or sc.symmetry}
            for spec, sc in pairs]

    def key(w):
        return f"{w.job['spec']}/{w.job['scenario']}"

    ws, interrupted = review_matrix(jobs, workers, on_done=lambda w: progress.finish(
        key(w), w.result, w.error), on_start=lambda w: progress.start(key(w)),
        on_tick=lambda running: [progress.update(key(w), w.progress[0], w.progress[1])
                                 for w in running])
    results, failures = [], []
    for (spec, sc), w in zip(pairs, ws):
        if w.result is not None:
            results.append(w.result)
        elif interrupted:
            results.append(placeholder(spec, sc, engine, bounds, "not run: interrupted"))
        else:
            failures.append(f"{key(w)}: {w.error or 'cancelled'}")
            results.append(placeholder(spec, sc, engine, bounds, f"failed: {w.error}"))
    return results, failures, interrupted


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


def cell_counts(results) -> dict[str, dict[str, dict]]:
    """{spec: {property: {"n": scenarios declaring it, Verdict: count, "first": scenario of
    the worst verdict}}}."""
    out: dict[str, dict[str, dict]] = {}
    for r in results:
        row = out.setdefault(r.spec, {})
        for p in r.properties:
            c = row.setdefault(p.name, {"n": 0, "first": None, "worst": None, "kind": p.kind})
            c["n"] += 1
            c[p.verdict] = c.get(p.verdict, 0) + 1
            if c["worst"] is None or ORDER[p.verdict] < ORDER[c["worst"]]:
                c["worst"], c["first"] = p.verdict, r.scenario
    return out


def cell_text(c: dict | None) -> str:
    """"VIOLATED in 2 of 6", "HOLDS in 6 of 6", "UNKNOWN in 1 of 3 (HOLDS 2)"; "—" if blank."""
    if c is None:
        return "—"
    worst = c["worst"]
    vacuous = " (vacuous)" if worst is Verdict.VIOLATED and c.get("kind") == "sometimes" else ""
    text = f"{worst}{vacuous} in {c[worst]} of {c['n']}"
    rest = [f"{v} {c[v]}" for v in (Verdict.UNKNOWN, Verdict.HOLDS)
            if v is not worst and c.get(v)]
    if worst is Verdict.VIOLATED and rest:
        text += " (" + ", ".join(rest) + ")"
    elif worst is Verdict.UNKNOWN and c.get(Verdict.HOLDS):
        text += f" (HOLDS {c[Verdict.HOLDS]})"
    return text


def _property_names(results) -> list[str]:
    """The matrix columns: the promises several eras share (a guard that only one era's
    scenarios declare stays in that scenario's own row)."""
    names: list[str] = []
    specs: dict[str, set] = {}
    for r in results:
        for p in r.properties:
            specs.setdefault(p.name, set()).add(r.spec)
            if p.name not in names:
                names.append(p.name)
    shared = [n for n in names if len(specs[n]) > 1]
    return shared or names


def era_changes(results) -> list[tuple[str, str, str, list[str]]]:
    """(era, previous era, what changed, [verdict changes]) for eras that name a PREVIOUS."""
    out = []
    for spec, prev, what, rows in _era_rows(results):
        out.append((spec, prev, what, [f"{sc} / {p}: {a} in {prev} -> {b} in {spec}"
                                       for sc, p, a, b in rows]))
    return out


def _era_rows(results):
    by_spec: dict[str, dict] = {}
    for r in results:
        by_spec.setdefault(r.spec, {})[r.scenario] = r
    for spec in by_spec:
        mod = registry.spec_module(spec)
        prev = getattr(mod, "PREVIOUS", None)
        if not prev or prev not in by_spec:     # no previous era, or it is not in this review
            continue
        rows = []
        for sc, r in by_spec[spec].items():
            old = by_spec.get(prev, {}).get(sc)
            if old is None:
                continue
            before = {p.name: p.verdict for p in old.properties}
            for p in r.properties:
                # a change is HOLDS <-> VIOLATED: UNKNOWN on either side is a bound or a
                # reduction (``terminates`` under symmetry), not something a design changed
                if p.name in before and before[p.name] is not p.verdict and \
                        Verdict.UNKNOWN not in (before[p.name], p.verdict):
                    rows.append((sc, p.name, str(before[p.name]), str(p.verdict)))
        yield spec, prev, " ".join(getattr(mod, "CHANGES", "").split()), rows


def era_commit_rows(results) -> list[tuple]:
    """Rows for :func:`render_verdict_changes` from the era-to-era comparison: the "commit" is
    the era step ("k6.16 → k6.18") and the subject the first sentence of its CHANGES."""
    rows = []
    for spec, prev, what, diffs in _era_rows(results):
        subject = _first_sentence(what) or "(no description)"
        commit = f"{prev} → {spec}"
        if not diffs:
            rows.append((commit, subject, "", "", "", ""))
        for sc, p, a, b in diffs:
            rows.append((commit, subject, sc, p, a, b))
    return rows


def _first_sentence(text: str, limit: int = 160) -> str:
    m = re.match(r"(.+?\.)(\s|$)", text)
    s = m.group(1) if m else text
    return s if len(s) <= limit else s[:limit - 1] + "…"


BISECT_MAX_STATES = 60_000      # per ledger prefix; a bigger scenario keeps its era-step row


def verdict_change_rows(results, max_states: int = BISECT_MAX_STATES) -> list[tuple]:
    """The rows of "Verdict changes per commit": for an era that is commits on top of the
    previous one (its ERA's ledger), every scenario whose verdicts differ between the two is
    re-checked on each prefix of the ledger (:func:`khomc.bisect.ledger_flips`) and each change
    is attributed to the commit that makes it.  Era steps that are not a ledger (a new base
    design), and scenarios too big to re-check within *max_states* per prefix, keep the
    era-to-era row, marked as such."""
    from ..bisect import BisectError, ledger_flips
    rows = []
    for spec, prev, what, diffs in _era_rows(results):
        era = getattr(registry.spec_module(spec), "ERA", None)
        ledgered = era is not None and getattr(era, "previous", None) is not None \
            and era.previous.name == prev
        subject = _first_sentence(what) or "(no description)"
        if not diffs:
            rows.append((f"{prev} → {spec}", subject, "", "", "", ""))
            continue
        for sc in dict.fromkeys(d[0] for d in diffs):
            flips, why = ([], "the era is a new base design, not commits on "
                          f"{prev}") if not ledgered else _flips(ledger_flips, BisectError,
                                                                  spec, sc, max_states)
            if why is None:
                rows += [(f.delta.commit, f.delta.subject, sc, f.prop, str(f.before),
                          str(f.after)) for f in flips]
                continue
            for _sc, p, a, b in (d for d in diffs if d[0] == sc):
                rows.append((f"{prev} → {spec}", f"{subject} (not bisected: {why})", sc, p,
                             a, b))
    return rows


def _flips(ledger_flips, error, spec, sc, max_states):
    try:
        return ledger_flips(spec, sc, max_states)
    except error as exc:
        return [], str(exc)


def render_verdict_changes(rows, md: bool = True) -> str:
    """The "Verdict changes per commit" table.  *rows*: ``(commit id, subject, scenario,
    property, before, after)``; a row with an empty scenario says the commit changed no
    verdict of the checks both sides share."""
    e = (lambda s: str(s).replace("|", "\\|")) if md else html.escape
    if not rows:
        return ("No verdict changed between commits.\n" if md
                else "<p>No verdict changed between commits.</p>")
    if md:
        lines = ["| commit | subject | scenario | property | before | after |",
                 "|---|---|---|---|---|---|"]
        last = None
        for commit, subject, sc, p, a, b in rows:
            same = commit == last
            last = commit
            c, s = ("", "") if same else (f"`{e(commit)}`", e(subject))
            if not sc:
                lines.append(f"| {c} | {s} | — | no verdict changed on shared scenarios | | |")
            else:
                lines.append(f"| {c} | {s} | {e(sc)} | {e(p)} | {a} | **{b}** |")
        return "\n".join(lines) + "\n"
    trs = []
    for commit, subject, sc, p, a, b in rows:
        if not sc:
            trs.append(f"<tr><td><code>{e(commit)}</code></td><td>{e(subject)}</td>"
                       "<td colspan=\"4\">no verdict changed on shared scenarios</td></tr>")
        else:
            trs.append(f"<tr><td><code>{e(commit)}</code></td><td>{e(subject)}</td>"
                       f"<td>{e(sc)}</td><td>{e(p)}</td><td class=\"{a}\">{a}</td>"
                       f"<td class=\"{b}\">{b}</td></tr>")
    return ("<table id=\"commits\"><tr><th>commit</th><th>subject</th><th>scenario</th>"
            "<th>property</th><th>before</th><th>after</th></tr>" + "".join(trs) + "</table>")


# -- violations ----------------------------------------------------------------------------------

class Violation:
    """One violated property of one check, with its explanation and drawings."""

    def __init__(self, r: CheckResult, p: PropertyResult, folder: Path, budget: float):
        self.r, self.p = r, p
        t = p.trace
        self.anchor = _slug(f"{r.spec}-{r.scenario}-{p.name}")
        self.explanation = None
        self.diffs: dict[int, list[str]] = {}
        model = None
        try:
            model = registry.build(t.spec, t.scenario, t.params)
        except Exception:
            pass
        if model is not None:
            self.explanation = explain(t, model, budget)
            states, _ = replay_states(registry.build(t.spec, t.scenario, t.params), t)
            if states is not None:
                from ..runtime.step import Stepper
                names = Stepper(model).task_names(states[-1])
                for n in range(len(t.steps)):
                    a = model.describe_world(states[n][0])
                    b = model.describe_world(states[n + 1][0])
                    lines = []
                    for k in a:
                        if a[k] != b[k]:
                            lines += field_diffs(k, a[k], b[k], names, limit=6)
                    self.diffs[n] = lines
        ex = self.explanation
        self.first = ex.setup if ex else max(0, len(t.steps) - 8)
        self.deciding = ex.deciding if ex else []
        self.svg = sequence_diagram(t, first=self.first, deciding=self.deciding)
        self.svg_path = Path(p.trace_path).with_suffix(".svg") if p.trace_path else None
        if self.svg_path is not None:
            self.svg_path.write_text(self.svg)
        self.splat = splat(t, self.first, self.deciding, self.diffs if self.diffs else None)

    def what(self) -> str:
        ex = self.explanation
        return ex.text if ex else f"{self.p.name}: {self.p.message} (the trace no longer replays)"

    def how(self) -> str:
        ex = self.explanation
        if ex is None:
            return ""
        if self.p.trace.kind == "termination":
            return "A livelock: the loop (bracketed) can repeat forever; no reordering applies."
        return ex.how


def violations(results, folder: Path, budget: float = 2.0) -> list[Violation]:
    out = []
    for r in results:
        for p in r.properties:
            if p.trace is not None and p.verdict is Verdict.VIOLATED and p.kind != "sometimes":
                out.append(Violation(r, p, folder, budget))
    return out


def _save(results: list[CheckResult], folder: Path) -> None:
    for r in results:
        for p in r.properties:
            if p.trace is not None and p.verdict is Verdict.VIOLATED and not p.trace_path:
                p.trace_path = str(p.trace.save(folder / "traces" / (trace_name(r, p.name)
                                                                      + ".json")))


def _rel(path: str, folder: Path) -> str:
    try:
        return str(Path(path).resolve().relative_to(folder.resolve()))
    except ValueError:
        return path


def _vacuous(r):
    return [p.name for p in r.properties if p.kind == "sometimes" and p.verdict is Verdict.VIOLATED]


def _summary(r: CheckResult) -> str:
    bad = [p.name for p in r.properties if p.verdict is Verdict.VIOLATED and p.kind != "sometimes"]
    unk = [p.name for p in r.properties if p.verdict is Verdict.UNKNOWN]
    vac = _vacuous(r)
    holds = sum(p.verdict is Verdict.HOLDS for p in r.properties)
    parts = []
    if bad:
        parts.append("VIOLATED: " + ", ".join(bad))
    if vac:
        parts.append("vacuous: " + ", ".join(vac))
    if unk:
        parts.append("UNKNOWN: " + ", ".join(unk))
    parts.append(f"HOLDS {holds} of {len(r.properties)}")
    return "; ".join(parts)


def _how_run(r: CheckResult) -> str:
    how = "exhaustive" if r.exhaustive else f"stopped: {r.stop}"
    if any(x.startswith("symmetry") for x in r.reductions):
        how += " up to symmetry"
    return how


# -- Markdown ------------------------------------------------------------------------------------

def _md_matrix(results, props, counts, anchors) -> list[str]:
    lines = ["| era | " + " | ".join(props) + " |", "|---" * (len(props) + 1) + "|"]
    seen = []
    for r in results:
        if r.spec not in seen:
            seen.append(r.spec)
    for spec in seen:
        row = counts.get(spec, {})
        cols = []
        for name in props:
            c = row.get(name)
            text = cell_text(c)
            if c is not None and c["worst"] is Verdict.VIOLATED and (spec, name) in anchors:
                text = f"[{text}](#{anchors[(spec, name)]})"
            elif c is not None and c.get("kind") == "sometimes" and c["worst"] is Verdict.VIOLATED:
                text = f"[{text}](#coverage)"
            elif c is not None and c["worst"] is not Verdict.HOLDS:
                text = f"**{text}**"
            cols.append(text)
        lines.append(f"| {spec} | " + " | ".join(cols) + " |")
    return lines


REPORT_BUDGET = 150_000   # bytes of REPORT.md: readable in a mail (issue 11)
TERSE_TAIL = 6            # from this brevity level on, Properties and Coverage are cut too
BRIEF_AGAIN = 8           # from this level on, a check's later violations are one paragraph

# How much of each violation REPORT.md shows, from the fullest to the tersest: characters of
# "What broke", characters of "Deciding steps", step rows of the splat (None: all), characters
# of a splat line (None: all; an effect label that spells out a whole kexec image runs to 600),
# state-change lines of the splat (None: as splat.CHANGES), and whether the SVG is linked.
# markdown() uses the first level whose report fits REPORT_BUDGET; index.html has everything.
BREVITY = ((640, 420, None, None, None, True), (560, 380, 40, 200, None, True),
           (480, 320, 28, 160, None, True), (400, 260, 20, 140, None, True),
           (320, 200, 16, 120, 4, True), (240, 160, 12, 110, 3, False),
           (180, 120, 8, 100, 2, False), (140, 100, 6, 96, 1, False),
           (120, 80, 6, 96, 1, False))


def markdown(results, folder: Path, failures=(), viols=None, interrupted=False,
             commit_rows=None, seconds: float | None = None,
             budget: int | None = REPORT_BUDGET) -> str:
    """REPORT.md: the fullest rendering that fits *budget* bytes (None: no limit)."""
    viols = violations(results, folder) if viols is None else viols
    commit_rows = era_commit_rows(results) if commit_rows is None else commit_rows
    overview = _overview(results, viols, seconds)
    text = ""
    for level, brevity in enumerate(BREVITY):
        text = _markdown(results, folder, failures, viols, interrupted, commit_rows, overview,
                         brevity, level)
        if budget is None or len(text.encode()) <= budget:
            break
    return text


def _overview(results, viols, seconds):
    """What REPORT.md and index.html both start from: the kernel eras' and the toys' results
    apart, the matrix cell counts, the anchor of each (era, property)'s first violation and
    the "in N s" of the headline."""
    kernel = [r for r in results if not is_example(r.spec)]
    examples = [r for r in results if is_example(r.spec)]
    anchors = {}
    for v in viols:
        anchors.setdefault((v.r.spec, v.p.name), v.anchor)
    took = f" in {seconds:.0f} s" if seconds is not None else ""
    return kernel, examples, cell_counts(results), anchors, took


def _markdown(results, folder, failures, viols, interrupted, commit_rows, overview,
              brevity, level) -> str:
    kernel, examples, counts, anchors, took = overview
    lines = ["# khomc review", "",
             f"khomc {__version__}, {time.strftime('%Y-%m-%d %H:%M')}: {len(results)} checks"
             f"{took}, {len(viols)} violations.", ""]
    if interrupted:
        lines += ["**Interrupted (Ctrl-C): this report is partial; checks that did not finish "
                  "are UNKNOWN.**", ""]
    for f in failures:
        lines += [f"**A check failed to run:** {f}", ""]
    if level:
        lines += [f"Shortened to fit {REPORT_BUDGET // 1000} KB (brevity level {level} of "
                  f"{len(BREVITY) - 1}): explanations cut at {brevity[0]} characters, splats "
                  f"at {brevity[2]} step rows of {brevity[3]} characters"
                  + (", a scenario's later violations at 4" if level >= 4 else "")
                  + (", the promises and the coverage lists cut" if level >= TERSE_TAIL else "")
                  + (", a scenario's later violations without their splat" if level >= BRIEF_AGAIN
                     else "")
                  + "; index.html and the traces have everything.", ""]
    if kernel:
        lines += ["## Matrix: kernel eras × property", ""]
        lines += _md_matrix(kernel, _property_names(kernel), counts, anchors)
        lines += ["", LEGEND, ""]
    if examples:
        lines += ["## Examples (toy specs, not KHO)", ""]
        lines += _md_matrix(examples, _property_names(examples), counts, anchors)
        lines.append("")
    lines += ["## Verdict changes per commit", "",
              render_verdict_changes(commit_rows).rstrip(), ""]
    lines += ["## Checks", "", "| era | scenario | bounds | engine | states | s | result |",
              "|---|---|---|---|---|---|---|"]
    for r in results:
        params = " ".join(f"{k}={v}" for k, v in r.params.items()) or "—"
        lines.append(f"| {r.spec} | {r.scenario} | {params} | {r.engine}, {_how_run(r)} | "
                     f"{r.distinct:,} | {r.seconds:.1f} | {_summary(r)} |")
    lines.append("")
    if viols:
        lines += ["## Violations", "", DECIDING, ""]
    seen: dict = {}
    schedules: dict = {}        # a check's schedule -> the violation that showed its splat
    shown: set = set()          # (era, scenario) with a violation already shown in full
    for v in viols:
        key = _same_key(v)
        if is_example(v.r.spec) and kernel:       # beside kernel eras, the toys in brief
            lines += _example_md(v, folder)
        elif key in seen:
            lines += _same_as_md(v, seen[key], folder)
        elif _schedule_key(v) in schedules:
            seen[key] = v
            lines += _same_schedule_md(v, schedules[_schedule_key(v)], folder, brevity)
        else:
            seen[key] = v
            schedules.setdefault(_schedule_key(v), v)
            again = (v.r.spec, v.r.scenario) in shown
            shown.add((v.r.spec, v.r.scenario))
            if again and level >= BRIEF_AGAIN:
                lines += _brief_md(v, folder, brevity)
            else:
                lines += _violation_md(v, folder, _again(brevity) if again and level >= 4
                                       else brevity)
    terse = level >= TERSE_TAIL
    lines += _properties_md(results, 120 if terse else 240)
    lines += _coverage_md(results, 2 if terse else COVERAGE_POINTS)
    return "\n".join(lines) + "\n"


WHAT_LIMIT = 640       # characters of "What broke" in REPORT.md (the HTML has all of it)


def _short(text: str, limit: int = WHAT_LIMIT) -> str:
    return text if len(text) <= limit else text[:limit - 1] + "… (the full text is in index.html)"


def _again(brevity: tuple) -> tuple:
    """The brevity of a scenario's second and later violations at the terse levels: the setup
    was shown with its first one, so only the last rows and one state change."""
    what, how, rows, width, changes, svg = brevity
    return what, how, min(rows or 4, 4), width, min(changes or 1, 1), False


def cut_changes(splat: str, n: int | None) -> str:
    """*splat* with at most *n* lines of its "State changes" block (the deciding steps' come
    first), then one line saying the rest is in the trace."""
    lines = splat.split("\n")
    head = next((i for i, line in enumerate(lines) if line.startswith(" State changes")), None)
    if n is None or head is None:
        return splat
    end = next((i for i in range(head + 1, len(lines)) if not lines[i].strip()), len(lines))
    block = [line for line in lines[head + 1:end] if not line.startswith("  (")]
    if len(block) <= n and end - head - 1 == len(block):
        return splat
    kept = block[:n] + ["  (more changes: see the trace)"]
    return "\n".join(lines[:head + 1] + kept + lines[end:])


def cut_lines(text: str, width: int | None) -> str:
    """*text* with every line longer than *width* characters cut, ending in an ellipsis."""
    if width is None:
        return text
    return "\n".join(line if len(line) <= width else line[:width - 1] + "…"
                     for line in text.split("\n"))


def fold_rows(splat: str, rows: int | None) -> str:
    """*splat* with at most *rows* step rows: the deciding ones (``=>``) and the last ones are
    kept, each run of the others folded into one line.  Step rows are the lines between the
    column header's ``----`` line and the first blank line (splat.splat's layout), except the
    loop marker and the waits."""
    lines = splat.split("\n")
    start = next((i + 1 for i, line in enumerate(lines)
                  if line.startswith("       ----")), None)
    if rows is None or start is None:
        return splat
    end = next((i for i in range(start, len(lines)) if not lines[i].strip()), len(lines))
    idx = [i for i in range(start, end)
           if "<- sleeps forever" not in lines[i] and not lines[i].startswith("  <loop:")]
    if len(idx) <= rows:
        return splat
    keep = {i for i in idx if lines[i].startswith("=>")}
    for i in reversed(idx):
        if len(keep) >= rows:
            break
        keep.add(i)
    out, folded = [], 0
    for i, line in enumerate(lines):
        if i in idx and i not in keep:
            folded += 1
            continue
        if folded:
            plural = "s" if folded > 1 else ""
            out.append(f"       ({folded} row{plural} folded: see index.html)")
            folded = 0
        out.append(line)
    return "\n".join(out)


def _same_key(v: Violation):
    """Two violations with the same scenario, property, explanation and schedule (the splat
    without the line that names the era) are one counterexample shown once."""
    body = "\n".join(line.replace(v.r.spec, "ERA") for line in v.splat.splitlines())
    return v.r.scenario, v.p.name, v.what().replace(v.r.spec, "ERA"), body


def _schedule_key(v: Violation):
    """One check's counterexamples of two properties often end in the same state by the same
    steps (BFS finds one shortest path to it): the check and the steps' tasks and labels."""
    t = v.p.trace
    steps = tuple((s.task, tuple(e[0] for e in s.effects)) for s in t.steps) if t else None
    return v.r.spec, v.r.scenario, repr(sorted(v.r.params.items())), steps


def _brief_md(v: Violation, folder: Path, brevity) -> list[str]:
    """A check's second and later violation at the tersest level: what broke and the replay
    command (its splat and diagram are in index.html)."""
    return (_heading(v) + [f"**What broke.** {_short(v.what(), brevity[0])} (Splat: "
                           "index.html.)", ""] + _replay(v, folder))


def _same_schedule_md(v: Violation, first: Violation, folder: Path, brevity) -> list[str]:
    """A violation whose schedule an earlier one of the same check has shown: its own
    explanation and deciding steps, the splat by reference."""
    lines = _heading(v) + _explained(v, brevity)
    lines += [f"The schedule is [{first.p.name}](#{first.anchor})'s above, step for step "
              "(its splat shows it).", ""]
    return lines + _replay(v, folder)


def _heading(v: Violation) -> list[str]:
    return [f'### {v.r.spec} / {v.r.scenario}: {v.p.name} <a id="{v.anchor}"></a>', ""]


def _explained(v: Violation, brevity) -> list[str]:
    """"What broke" and, where the explanation has them, the deciding steps."""
    lines = [f"**What broke.** {_short(v.what(), brevity[0])}", ""]
    how = v.how()
    if how:
        lines += [f"**Deciding steps.** {_short(how, brevity[1])}", ""]
    return lines


def _replay(v: Violation, folder: Path) -> list[str]:
    if not v.p.trace_path:
        return []
    return [f"Replay (from the report folder): `khomc replay {_rel(v.p.trace_path, folder)}`", ""]


def _example_md(v: Violation, folder: Path) -> list[str]:
    """A toy example's violation, in brief: the splat and diagram are in index.html."""
    r, p = v.r, v.p
    lines = [f'### {r.spec} / {r.scenario}: {p.name} (example) <a id="{v.anchor}"></a>', "",
             f"{_short(v.what(), 300)}", ""]
    if p.trace_path:
        lines += [f"Replay: `khomc replay {_rel(p.trace_path, folder)}`", ""]
    return lines


def _same_as_md(v: Violation, first: Violation, folder: Path) -> list[str]:
    r, p = v.r, v.p
    lines = [f'### {r.spec} / {r.scenario}: {p.name} <a id="{v.anchor}"></a>', "",
             f"The same counterexample as [{first.r.spec} / {first.r.scenario}]"
             f"(#{first.anchor}), step for step: {_short(v.what(), 300)}", ""]
    if p.trace_path:
        lines += [f"Replay: `khomc replay {_rel(p.trace_path, folder)}`", ""]
    return lines


def _violation_md(v: Violation, folder: Path, brevity=BREVITY[0]) -> list[str]:
    _, _, rows, width, changes, svg = brevity
    lines = _heading(v) + _explained(v, brevity)
    text = cut_changes(fold_rows(v.splat.rstrip(), rows), changes)
    lines += ["```", cut_lines(text, width), "```", ""]
    if v.svg_path is not None and svg:
        lines += [f"![sequence diagram of {v.r.scenario}: {v.p.name}]"
                  f"({_rel(str(v.svg_path), folder)})", ""]
    return lines + _replay(v, folder)


def property_docs(results) -> dict[str, list[tuple[list[str], str]]]:
    """{property: [(eras, doc)]}: each distinct wording once, with the eras that use it."""
    docs: dict[str, list] = {}
    for r in results:
        if is_example(r.spec):
            continue
        for p in r.properties:
            if not p.doc:
                continue
            entries = docs.setdefault(p.name, [])
            for eras, doc in entries:
                if doc == p.doc:
                    if r.spec not in eras:
                        eras.append(r.spec)
                    break
            else:
                entries.append(([r.spec], p.doc))
    return docs


def _properties_md(results, width: int = 240) -> list[str]:
    docs = property_docs(results)
    if not docs:
        return []
    lines = ["## Properties", "", "<details><summary>what each promise means</summary>", ""]
    for n, entries in docs.items():
        for eras, d in entries:
            where = f" ({', '.join(eras)})" if len(entries) > 1 else ""
            lines.append(f"- **{n}**{where}: {_first_sentence(' '.join(d.split()), width)}")
    return lines + ["", "(The full text of each promise is in index.html.)", "", "</details>", ""]


def _coverage_items(results):
    for r in results:
        vac = _vacuous(r)
        if r.unreached or vac:
            yield r, vac


def _coverage_md(results, points: int | None = None) -> list[str]:
    lines = ['## Coverage <a id="coverage"></a>', "", "Await points (effects) of the functions a scenario runs that no "
             "explored run reached (error paths the scenario does not exercise, or dead code), "
             "and vacuous `sometimes` guards.", ""]
    for r, vac in _coverage_items(results):
        lines.append(f"- **{r.spec}/{r.scenario}**: " + "; ".join(
            [f"vacuous: {', '.join(vac)}"] * bool(vac)
            + [f"never reached: {_points(r.unreached, points)}"] * bool(r.unreached)))
    return lines


COVERAGE_POINTS = 6     # await points listed per scenario in REPORT.md (index.html has all)


def _points(unreached, points: int | None = None) -> str:
    points = COVERAGE_POINTS if points is None else points
    shown = ", ".join(f"{f}:{l} ({fn})" for f, l, fn in unreached[:points])
    more = len(unreached) - points
    return shown + (f" and {more} more" if more > 0 else "")


# -- HTML ----------------------------------------------------------------------------------------

CSS = """
body { font-family: sans-serif; margin: 1.5em; max-width: 1340px; }
table { border-collapse: collapse; margin: 1em 0; display: block; overflow-x: auto;
        max-width: 100%; }
td, th { border: 1px solid #999; padding: 0.2em 0.6em; vertical-align: top; }
.HOLDS { background: #cfc; } .VIOLATED { background: #fcc; } .UNKNOWN { background: #eee; }
pre { background: #f6f6f6; padding: 0.5em; overflow-x: auto; }
svg { border: 1px solid #ccc; margin: 0.5em 0; max-width: 100%; height: auto; }
.explanation { max-width: 60em; }
"""


def _html_matrix(results, props, counts, anchors, table_id) -> str:
    e = html.escape
    head = "".join(f"<th>{e(n)}</th>" for n in props)
    seen = []
    for r in results:
        if r.spec not in seen:
            seen.append(r.spec)
    rows = []
    for spec in seen:
        tds = []
        for name in props:
            c = counts.get(spec, {}).get(name)
            if c is None:
                tds.append('<td class="blank">—</td>')
                continue
            text = e(cell_text(c))
            if (spec, name) in anchors and c["worst"] is Verdict.VIOLATED:
                text = f'<a href="#{anchors[(spec, name)]}">{text}</a>'
            elif c.get("kind") == "sometimes" and c["worst"] is Verdict.VIOLATED:
                text = f'<a href="#coverage">{text}</a>'
            tds.append(f'<td class="{c["worst"]}">{text}</td>')
        rows.append(f"<tr><th>{e(spec)}</th>{''.join(tds)}</tr>")
    return (f'<table id="{table_id}"><tr><th>era</th>{head}</tr>' + "".join(rows) + "</table>")


def page(results, folder: Path, failures=(), viols=None, interrupted=False,
         commit_rows=None, seconds: float | None = None) -> str:
    e = html.escape
    viols = violations(results, folder) if viols is None else viols
    kernel, examples, counts, anchors, took = _overview(results, viols, seconds)
    body = [f"<h1>khomc review</h1><p>khomc {__version__}: {len(results)} checks{took}, "
            f"{len(viols)} violations.</p>"]
    if interrupted:
        body.append("<p><b>Interrupted (Ctrl-C): this report is partial; checks that did not "
                    "finish are UNKNOWN.</b></p>")
    body += [f"<p><b>A check failed to run:</b> {e(f)}</p>" for f in failures]
    if kernel:
        body.append("<h2>Matrix: kernel eras × property</h2>"
                    + _html_matrix(kernel, _property_names(kernel), counts, anchors, "matrix")
                    + f"<p>{e(LEGEND)}</p>")
    if examples:
        body.append("<h2>Examples (toy specs, not KHO)</h2>"
                    + _html_matrix(examples, _property_names(examples), counts, anchors,
                                   "examples" if kernel else "matrix"))
    body.append("<h2>Verdict changes per commit</h2>" + render_verdict_changes(
        commit_rows if commit_rows is not None else era_commit_rows(results), md=False))
    trs = "".join(
        f"<tr><td>{e(r.spec)}</td><td>{e(r.scenario)}</td><td>"
        f"{e(' '.join(f'{k}={v}' for k, v in r.params.items()) or '—')}</td><td>{e(r.engine)}, "
        f"{e(_how_run(r))}</td><td>{r.distinct:,}</td><td>{r.seconds:.1f}</td>"
        f'<td class="{r.verdict}">{e(_summary(r))}</td></tr>' for r in results)
    body.append("<h2>Checks</h2><details><summary>every check with its bounds and numbers"
                "</summary><table><tr><th>era</th><th>scenario</th><th>bounds</th><th>engine</th>"
                f"<th>states</th><th>s</th><th>result</th></tr>{trs}</table></details>")
    if viols:
        body.append(f"<h2>Violations</h2><p>{e(DECIDING)}</p>")
    for v in viols:
        body.append(_violation_html(v, folder))
    docs = property_docs(results)
    if docs:
        body.append("<h2>Properties</h2><details><summary>what each promise means</summary><ul>"
                    + "".join(f"<li><b>{e(n)}</b>"
                              + (f" ({e(', '.join(eras))})" if len(entries) > 1 else "")
                              + f": {e(d)}</li>"
                              for n, entries in docs.items() for eras, d in entries)
                    + "</ul></details>")
    cov = []
    for r, vac in _coverage_items(results):
        cov.append(f"<li><b>{e(r.spec)}/{e(r.scenario)}</b>: "
                   + (f"vacuous: {e(', '.join(vac))}; " if vac else "")
                   + e(", ".join(f"{f}:{l} ({fn})" for f, l, fn in r.unreached)) + "</li>")
    body.append("<h2 id=\"coverage\">Coverage</h2><p>Await points (effects) of the functions a scenario runs "
                "that no explored run reached, and vacuous guards.</p><details><summary>"
                f"{len(cov)} checks with unreached await points or vacuous guards</summary><ul>"
                + "".join(cov) + "</ul></details>")
    return ("<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>khomc review</title><style>{CSS}</style></head><body>\n"
            + "\n".join(body) + "\n</body></html>\n")


def _violation_html(v: Violation, folder: Path) -> str:
    e = html.escape
    r, p, t = v.r, v.p, v.p.trace
    deciding = set(v.deciding)
    steps = []
    for n, s in enumerate(t.steps):
        effects = "; ".join(lab if obs == "None" else f"{lab} = {obs}"
                            for lab, obs, _c in s.effects)
        diffs = "".join(f"<br><small>{e(d)}</small>" for d in v.diffs.get(n, []))
        cls = ' class="deciding" style="background:#ffe08a"' if n in deciding else ""
        steps.append(f"<tr{cls}><td>{n + 1}</td><td>{e(s.task)}</td><td>{e(effects)}{diffs}"
                     "</td></tr>")
    setup = "".join(steps[:v.first])
    rest = "".join(steps[v.first:])
    table = ("<table class=\"steps\"><tr><th>#</th><th>task</th><th>effects and state changes"
             "</th></tr>" + rest + "</table>")
    folded = (f"<details><summary>steps 1-{v.first}: setup</summary><table class=\"steps\">"
              f"{setup}</table></details>" if v.first else "")
    how = v.how()
    parts = [f'<h3 id="{v.anchor}">{e(r.spec)} / {e(r.scenario)}: {e(p.name)}</h3>',
             f'<p class="explanation"><b>What broke.</b> {e(v.what())}</p>',
             (f'<p class="explanation"><b>Deciding steps.</b> {e(how)}</p>' if how else ""),
             v.svg,
             f"<details><summary>splat</summary><pre>{e(v.splat)}</pre></details>",
             f"<details><summary>steps and state changes</summary>{folded}{table}</details>",
             f"<p>Replay: <code>khomc replay {e(_rel(p.trace_path or '', folder))}</code></p>"]
    return "\n".join(parts)


# -- expected verdicts -----------------------------------------------------------------------------

def expect_matrix(results) -> dict:
    return {"format": EXPECT_FORMAT, "version": EXPECT_VERSION,
            "verdicts": {f"{r.spec}/{r.scenario}": {p.name: str(p.verdict) for p in r.properties}
                         for r in results}}


def load_expect(path: str) -> dict:
    try:
        text = Path(path).read_text()
    except OSError as exc:
        raise ExpectError(f"{path}: cannot read ({exc.strerror or exc})") from None
    try:
        d = json.loads(text)
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as exc:
        raise ExpectError(f"{path}: not JSON ({type(exc).__name__})") from None
    if not isinstance(d, dict) or d.get("format") != EXPECT_FORMAT:
        raise ExpectError(f"{path}: not a khomc expect file (no \"format\": \"{EXPECT_FORMAT}\"; "
                          "write one with --write-expect)")
    if d.get("version") != EXPECT_VERSION:
        raise ExpectError(f"{path}: expect format version {d.get('version')!r} is not supported")
    v = d.get("verdicts")
    ok = {str(x) for x in Verdict}
    if not isinstance(v, dict) or not all(
            isinstance(k, str) and isinstance(row, dict) and all(
                isinstance(pk, str) and pv in ok for pk, pv in row.items())
            for k, row in v.items()):
        raise ExpectError(f"{path}: \"verdicts\" must map \"spec/scenario\" to "
                          "{property: HOLDS|VIOLATED|UNKNOWN}")
    return v


def compare_expect(results, expected: dict) -> tuple[list[str], list[str]]:
    """(differences, notes): a difference is a property whose verdict is not the expected one;
    notes name checks in only one of the two (not failures: --spec/--scenario choose)."""
    diffs, notes = [], []
    got = expect_matrix(results)["verdicts"]
    for key, row in got.items():
        want = expected.get(key)
        if want is None:
            notes.append(f"{key}: not in the expect file")
            continue
        for prop, verdict in row.items():
            if prop not in want:
                notes.append(f"{key} / {prop}: not in the expect file")
            elif want[prop] != verdict:
                diffs.append(f"{key} / {prop}: expected {want[prop]}, got {verdict}")
        for prop in want:
            if prop not in row:
                diffs.append(f"{key} / {prop}: expected {want[prop]}, the check has no such "
                             "property")
    return diffs, notes


# -- the job -------------------------------------------------------------------------------------

def run(args, out) -> int:
    from .progress import ReviewProgress
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
    expected = load_expect(args.expect) if getattr(args, "expect", None) else None
    folder = Path(args.out)
    folder.mkdir(parents=True, exist_ok=True)
    options = {k: True for k in ("first", "compact", "symmetry") if getattr(args, k, False)}
    if getattr(args, "ray", False) or getattr(args, "cluster", None):   # the jobs as Ray tasks
        options["ray"] = args.cluster or "local"
    total = len(_jobs(specs, names))
    start = time.perf_counter()
    failures: list[str] = []
    with ReviewProgress(total, out, enabled=not args.no_progress) as progress:
        if args.workers > 1 or options.get("ray"):
            results, failures, interrupted = collect_parallel(
                specs, bounds, args.engine, progress, args.workers, folder, names, options)
        else:
            results, interrupted = collect(specs, bounds, args.engine, progress, names, options)
    seconds = time.perf_counter() - start
    _save(results, folder)
    try:
        viols = violations(results, folder)
    except KeyboardInterrupt:           # Ctrl-C while explaining: the matrix still gets written
        interrupted, viols = True, []
    rows = verdict_change_rows(results)
    (folder / "REPORT.md").write_text(markdown(results, folder, failures, viols, interrupted,
                                               rows, seconds))
    (folder / "index.html").write_text(page(results, folder, failures, viols, interrupted,
                                            rows, seconds))
    (folder / "results.json").write_text(json.dumps([r.as_dict() for r in results], indent=1))
    out.write(f"wrote {folder / 'REPORT.md'} and {folder / 'index.html'} "
              f"({len(results)} checks, {len(viols)} violations, {seconds:.0f} s)\n")
    if getattr(args, "write_expect", None):
        Path(args.write_expect).write_text(json.dumps(expect_matrix(results), indent=1) + "\n")
        out.write(f"wrote {args.write_expect}\n")
    for f in failures:
        sys.stderr.write(f"khomc: a check failed: {f}\n")
    if interrupted:
        sys.stderr.write("khomc: interrupted: the report is partial (UNKNOWN cells)\n")
        return EXIT_INTERRUPTED
    if failures:
        return EXIT_FAILED
    if expected is not None:
        diffs, notes = compare_expect(results, expected)
        for n in notes:
            out.write(f"note: {n}\n")
        for d in diffs:
            out.write(f"differs: {d}\n")
        if diffs:
            out.write(f"{len(diffs)} verdict(s) differ from {args.expect}\n")
            return EXIT_DIFFERS
        out.write(f"every verdict is as in {args.expect}\n")
    return EXIT_OK
