"""khomc: the command line.  ``list``, ``check``, ``bisect``, ``replay``, ``review``, ``prove``.

Owns argument parsing, the printed tables and the exit codes:

    0  every property HOLDS (replay: the schedule replayed and the violation is gone;
       replay --against: GONE)
    1  some property is VIOLATED (replay: the recorded violation reproduces; --against: STILL)
    2  usage or input error (unknown spec/scenario/engine/option, a bad trace file)
    3  UNKNOWN: a budget ran out (replay: the schedule diverges; --against: CANNOT APPLY)
  130  interrupted by Ctrl-C (what was reached is printed first)
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import re
import signal
import sys
import tempfile
import time
from pathlib import Path

from . import __version__, registry
from .engines.result import Bounds, CheckResult, EXIT_CODES, Verdict
from .engines.search import Search
from .runtime.tasks import SpecError
from .engines.checkpoint import CheckpointError
from .trace import Trace, TraceError, check_matches, replay

EXIT_USAGE = 2
EXIT_INTERRUPTED = 130


class UsageError(Exception):
    """Bad command-line input; printed as one line, exit 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, exit 2, as for every other bad input
        raise UsageError(message)


def _params(pairs: list[str]) -> dict:
    out = {}
    for p in pairs or []:
        if "=" not in p:
            raise UsageError(f"-D expects NAME=VALUE, got {p!r}")
        k, v = p.split("=", 1)
        out[k.strip()] = v.strip()
    return out


def _positive(kind):
    def parse(text):
        try:
            v = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
        if v <= 0:
            raise argparse.ArgumentTypeError(f"must be positive: {text!r}")
        return v
    return parse


def _nearest_existing(path: Path) -> Path:
    p = path
    while not p.exists() and p != p.parent:
        p = p.parent
    return p


def _probe_dir(where: Path, option: str, target: Path) -> None:
    """Create and remove a file in *where*: root ignores permission bits, so only a real write
    tells (a read-only file system, a path through a regular file)."""
    if not where.is_dir():
        raise UsageError(f"{option} {target}: {where} is not a directory")
    try:
        fd, name = tempfile.mkstemp(prefix=".khomc-probe-", dir=where)
        os.close(fd)
        os.unlink(name)
    except OSError as exc:
        raise UsageError(f"{option} {target}: cannot write in {where} "
                         f"({exc.strerror or exc})") from None


def writable_dir(path: str, option: str) -> None:
    """Refuse, before any search, an output folder that cannot be created or written."""
    p = Path(path)
    if p.exists() and not p.is_dir():
        raise UsageError(f"{option} {path}: exists and is not a directory")
    _probe_dir(_nearest_existing(p), option, p)


def writable_file(path: str, option: str) -> None:
    """Refuse, before any search, an output file that cannot be written."""
    p = Path(path)
    if p.is_dir():
        raise UsageError(f"{option} {path}: is a directory")
    if p.exists() and not os.access(p, os.W_OK):
        raise UsageError(f"{option} {path}: not writable")
    parent = p.parent
    if parent.exists() and not parent.is_dir():
        raise UsageError(f"{option} {path}: {parent} is not a directory")
    if not parent.exists():
        raise UsageError(f"{option} {path}: folder {parent} does not exist")
    _probe_dir(parent, option, p)


class _BuildTimeout(BaseException):   # not an Exception: model code cannot swallow it
    pass


def timed_build(spec: str, name: str, params: dict, time_limit: float | None):
    """Build a scenario's model under --time-limit (construction counts against it): return
    (model, seconds taken).  Raises _BuildTimeout when the build alone takes longer than the
    limit."""
    start = time.perf_counter()
    armed = False
    if time_limit is not None:
        def ring(signum, frame):
            raise _BuildTimeout
        try:
            old = signal.signal(signal.SIGALRM, ring)
            signal.setitimer(signal.ITIMER_REAL, time_limit)
            armed = True
        except (ValueError, AttributeError):       # not the main thread / no SIGALRM
            pass
    try:
        model = registry.build(spec, name, params)
    finally:
        if armed:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, old)
    return model, time.perf_counter() - start


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "-", text).strip("-").lower()


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="khomc", description="A model checker of Linux Kexec HandOver designs.")
    p.add_argument("--version", action="version", version=f"khomc {__version__}")
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)

    sub.add_parser("list", help="list specs, scenarios, their parameters and era ledgers")

    b = sub.add_parser("bisect", help="name the commit of an era ledger that flips a verdict")
    b.add_argument("spec", help="the spec whose scenario is built on every prefix")
    b.add_argument("scenario")
    b.add_argument("property")
    b.add_argument("--good", required=True, metavar="ERA", help="the older era (a spec name)")
    b.add_argument("--bad", required=True, metavar="ERA", help="the newer era (a spec name)")
    b.add_argument("-D", dest="params", action="append", metavar="NAME=VALUE")
    b.add_argument("--max-states", type=_positive(int))
    b.add_argument("--trace-dir", default="traces", help="where both sides' traces are saved")

    c = sub.add_parser("check", help="check every property of a scenario")
    c.add_argument("spec")
    c.add_argument("scenario", nargs="?", help="default: every default scenario of the spec")
    _search_options(c)
    c.add_argument("--json", action="store_true", help="print results as JSON")
    c.add_argument("--trace-dir", default="traces", help="where counterexamples are saved")
    c.add_argument("--resume", metavar="FILE",
                   help="continue the search checkpointed in FILE (SPEC and SCENARIO must match)")

    r = sub.add_parser("replay", help="re-execute a saved trace step by step")
    r.add_argument("trace")
    r.add_argument("--quiet", action="store_true", help="print only the verdict line")
    r.add_argument("--against", metavar="ERA",
                   help="map the schedule onto another spec (era) with the same scenario, by "
                        "task role and kernel function: GONE (exit 0), STILL (1) or CANNOT "
                        "APPLY at step k (3)")
    r.add_argument("--json", action="store_true")
    r.add_argument("--itf", metavar="FILE",
                   help="also write the replayed states as Apalache ITF JSON")
    r.add_argument("--pytest", metavar="FILE",
                   help="also write a standalone pytest regression test that replays the "
                        "schedule and asserts the verdict (with --against: the answer)")

    g = sub.add_parser("graph", help="state-graph analyses: livelocks, lock order, export")
    g.add_argument("spec")
    g.add_argument("scenario")
    g.add_argument("-D", dest="params", action="append", metavar="NAME=VALUE")
    g.add_argument("--max-states", type=_positive(int), default=1_000_000)
    g.add_argument("--dot", metavar="FILE", help="write the state graph as Graphviz DOT")
    g.add_argument("--graphml", metavar="FILE", help="write the state graph as GraphML")
    g.add_argument("--export-limit", type=_positive(int), default=5000,
                   help="largest graph (states) to export")

    v = sub.add_parser("review", help="check the default matrix and write a report")
    v.add_argument("--spec", action="append", help="eras (specs) to include (default: all)")
    v.add_argument("--scenario", action="append",
                   help="scenarios to include, by name, in every chosen era (default: each "
                        "era's default scenarios)")
    v.add_argument("--out", default="review", help="output folder (default: review/)")
    _review_options(v)

    pr = sub.add_parser("prove", help="z3 proofs of the preserved-memory encodings of an era")
    pr.add_argument("era", nargs="?", help="v5, 6.16, 6.18, 6.19 or 7.1 (default: all)")
    pr.add_argument("--seed", type=int, default=0, help="z3 random seed (smt and sat)")
    pr.add_argument("--json", action="store_true", help="print results as JSON")
    return p


ENGINES = ["bfs", "dfs", "random", "pct", "stateful"]

# options of `check` that a review cannot honour: refused with a one-line error, not ignored
REVIEW_REFUSES = {
    "--por": "partial-order reduction changes which properties a review can decide",
    "--deadline": "it is a swarm option (review runs one search per check)",
    "--checkpoint": "a review does not checkpoint its searches",
    "--checkpoint-every": "a review does not checkpoint its searches",
    "--seed": "review uses the exhaustive engines only",
    "--runs": "review uses the exhaustive engines only",
    "--steps": "review uses the exhaustive engines only",
    "--pct-depth": "review uses the exhaustive engines only",
    "--examples": "review uses the exhaustive engines only",
    "--derandomize": "review uses the exhaustive engines only",
    "--no-shrink": "review uses the exhaustive engines only",
    "-D": "a review checks each scenario at its documented bounds (use check -D)",
    "--fail-allocs": "a review checks each scenario at its documented bounds (use check)",
    "--json": "a review writes results.json in its --out folder",
    "--trace-dir": "a review saves its traces under --out/traces",
    "--resume": "a review does not checkpoint its searches",
}


class _Refuse(argparse.Action):
    def __call__(self, parser, namespace, values, option_string=None):
        raise UsageError(f"review: {option_string} does not apply: "
                         f"{REVIEW_REFUSES[option_string]}")


def _review_options(v) -> None:
    """The options `review` honours; the other search options are refused (exit 2)."""
    v.add_argument("--engine", default="bfs", choices=["bfs", "dfs"],
                   help="exhaustive engine for every check (default bfs)")
    v.add_argument("--max-states", type=_positive(int), help="budget per check")
    v.add_argument("--max-depth", type=_positive(int), help="budget per check")
    v.add_argument("--time-limit", type=_positive(float), metavar="SECONDS",
                   help="budget per check")
    v.add_argument("--first", action="store_true",
                   help="stop each check at its first violation (other properties UNKNOWN)")
    v.add_argument("--compact", action="store_true", help="store 64-bit fingerprints")
    v.add_argument("--symmetry", action="store_true",
                   help="identify states up to declared symmetry (terminates decided only if no "
                        "cycle of orbits)")
    v.add_argument("--workers", type=_positive(int), default=max(1, min(os.cpu_count() or 1, 4)),
                   metavar="N", help="checks at a time, in worker processes (default: cores, "
                                     "at most 4)")
    v.add_argument("--ray", action="store_true",
                   help="run the checks as Ray tasks on a local Ray (pip install 'khomc[ray]')")
    v.add_argument("--cluster", metavar="ADDRESS",
                   help="run the checks as Ray tasks on the Ray cluster at ADDRESS (the --out "
                        "folder must be shared by its nodes)")
    v.add_argument("--no-progress", action="store_true",
                   help="no live progress display (plain lines are printed when stdout is "
                        "not a terminal anyway)")
    v.add_argument("--expect", metavar="FILE",
                   help="compare every verdict with FILE (written by --write-expect): exit 1 "
                        "when one differs (for CI)")
    v.add_argument("--write-expect", metavar="FILE",
                   help="write this run's verdicts as an expect file")
    for opt in REVIEW_REFUSES:
        v.add_argument(opt, nargs="?", action=_Refuse, help=argparse.SUPPRESS)


def _search_options(p, scenario_params: bool = True) -> None:
    p.add_argument("--engine", default="bfs", choices=ENGINES,
                   help="bfs/dfs: exhaustive; random/pct/stateful: sampling (never HOLDS)")
    p.add_argument("--max-states", type=_positive(int))
    p.add_argument("--max-depth", type=_positive(int))
    p.add_argument("--time-limit", type=_positive(float), metavar="SECONDS")
    p.add_argument("--first", action="store_true",
                   help="stop at the first violation (other properties become UNKNOWN)")
    p.add_argument("--no-progress", action="store_true")
    p.add_argument("--compact", action="store_true",
                   help="bfs/dfs: store 64-bit fingerprints, not states (prints the collision "
                        "probability)")
    p.add_argument("--por", action="store_true",
                   help="bfs/dfs: partial-order reduction (ample sets on task-private "
                        "state; bfs also sleep sets on effect independence)")
    p.add_argument("--symmetry", action="store_true",
                   help="bfs/dfs: identify states up to the scenario's declared symmetry "
                        "(terminates is decided only when no cycle of orbits exists)")
    p.add_argument("--workers", type=_positive(int), default=1, metavar="N",
                   help="check: a swarm of N diversified searches in worker processes; "
                        "review: N checks at a time")
    p.add_argument("--deadline", type=_positive(float), metavar="SECONDS",
                   help="swarm: stop every worker after this long")
    d = p.add_argument_group("one search split over hash partitions (khomc.engines.distributed)")
    d.add_argument("--partitions", type=_positive(int), metavar="N",
                   help="bfs: split ONE exhaustive search over N hash partitions, each in its "
                        "own process (same counts, verdicts and traces as one process)")
    d.add_argument("--ray", action="store_true",
                   help="the partitions are Ray actors on a local Ray started on this "
                        "machine's cores (pip install 'khomc[ray]'); with --workers N and no "
                        "--partitions, the swarm's N searches are Ray tasks")
    d.add_argument("--cluster", metavar="ADDRESS",
                   help="the partitions (or, with --workers N, the swarm's searches) run on "
                        "the Ray cluster at ADDRESS (host:port of `ray start --head`)")
    p.add_argument("--checkpoint", metavar="FILE",
                   help="bfs: write a checkpoint to FILE periodically and when stopped")
    p.add_argument("--checkpoint-every", type=_positive(float), default=60.0, metavar="SECONDS")
    g = p.add_argument_group("sampling engines (random, pct, stateful)")
    g.add_argument("--seed", type=int, default=0, help="seed: the same seed, the same runs")
    g.add_argument("--runs", type=_positive(int), default=1000, help="random/pct: runs")
    g.add_argument("--steps", type=_positive(int), default=100,
                   help="steps per run (stateful: per example)")
    g.add_argument("--pct-depth", type=_positive(int), default=3, metavar="D",
                   help="pct: bug depth d (d-1 priority change points)")
    g.add_argument("--examples", type=_positive(int), default=200, help="stateful: examples")
    g.add_argument("--derandomize", action="store_true",
                   help="stateful: derive the examples from the test, not the seed (for CI)")
    g.add_argument("--no-shrink", action="store_true", help="keep counterexamples unshrunk")
    if scenario_params:
        p.add_argument("-D", dest="params", action="append", metavar="NAME=VALUE",
                       help="scenario parameter (bound), e.g. -D N=4 -D K=6")
        p.add_argument("--fail-allocs", type=int, metavar="K",
                       help="allocation failures the search may inject (-D fail_allocs=K)")


# -- commands ----------------------------------------------------------------------------------

def _ledger_lines(era) -> list[str]:
    """An era's own ledger: its base, then one line per delta (id, subject, Fixes:, the
    functions it replaces)."""
    if era.previous is not None:
        lines = [f"  ledger: {era.name} = {era.previous.name} + {len(era.deltas)} commit(s)"]
    else:
        files = ", ".join(m.__name__.rsplit(".", 1)[-1] for m in era.base)
        lines = [f"  ledger: {era.name} is a base ({files})"
                 + (f"; {era.doc}" if era.doc else "")]
    for d in era.deltas:
        lines.append(f"    {d.line()}")
    return lines


def cmd_list(args, out) -> int:
    for spec in registry.SPECS:
        mod = registry.spec_module(spec)
        head = (mod.__doc__ or "").strip().splitlines()[0]
        out.write(f"{spec}: {head}\n")
        for sc in mod.SCENARIOS:
            params = " ".join(f"{k}={v}{_range(sc.param(k))}" for k, v in sc.params.items())
            flag = "" if sc.default else " (not in defaults)"
            out.write(f"  {sc.name:<22} {params:<18} {sc.doc}{flag}\n")
        era = getattr(mod, "ERA", None)
        if era is not None and hasattr(era, "deltas"):
            for line in _ledger_lines(era):
                out.write(line + "\n")
    return 0


def _range(p) -> str:
    """How ``khomc list`` shows a parameter's declared range: ``[1..8]``, nothing for others."""
    if p.kind is int:
        return f"[{p.lo}..{p.hi}]"
    if p.choices is not None:
        return "[" + "|".join(p.choices) + "]"
    return ""


def cmd_bisect(args, out) -> int:
    """Exit 0 when a commit flips the verdict, 1 when none does (the same verdict from good to
    bad), 3 when a prefix is UNKNOWN (cannot be built, or the search stopped) before any flip,
    2 for bad input."""
    from .bisect import BisectError, bisect
    try:
        result = bisect(args.good, args.bad, args.scenario, args.property, _params(args.params),
                        args.max_states, args.trace_dir, spec=args.spec)
    except BisectError as exc:
        raise UsageError(exc.args[0]) from None
    except (TypeError, ValueError) as exc:
        raise UsageError(f"bad parameter value: {exc}") from None
    out.write(result.render())
    if result.culprit is not None:
        return 0
    return EXIT_CODES[Verdict.UNKNOWN] if result.unknown else 1


def _bounds(args) -> Bounds:
    limit = args.time_limit
    spent = getattr(args, "_build_seconds", 0.0)
    if limit is not None and spent:
        limit = max(1e-3, limit - spent)          # model construction counted against it
    return Bounds(args.max_states, args.max_depth, limit)


_PARTITION_REFUSES = (("engine", "dfs", "--engine dfs"), ("first", True, "--first"),
                      ("compact", True, "--compact"), ("por", True, "--por"),
                      ("symmetry", True, "--symmetry"), ("checkpoint", "*", "--checkpoint"),
                      ("resume", "*", "--resume"))


def _split_search(args) -> bool:
    """Whether *args* ask for one search split over partitions (which refuse --symmetry)."""
    return bool(getattr(args, "partitions", None) or getattr(args, "ray", False)
                or getattr(args, "cluster", None))


def _partitioned(model, args) -> CheckResult:
    """``--partitions N`` / ``--ray`` / ``--cluster ADDRESS``: one BFS over hash partitions."""
    from .engines.distributed import MAX_PARTITIONS, DistributedSearch
    for attr, bad, opt in _PARTITION_REFUSES:
        v = getattr(args, attr, None)
        if (bad == "*" and v) or (bad != "*" and v == bad):
            raise UsageError(f"{opt} cannot be combined with --partitions/--ray/--cluster "
                             "(the partitioned search is a plain breadth-first search)")
    if args.engine != "bfs":
        raise UsageError(f"--partitions/--ray/--cluster need --engine bfs, not {args.engine}")
    if getattr(args, "workers", 1) > 1:
        raise UsageError("--workers N is the swarm of independent searches; --partitions N "
                         "splits one search: give one of them")
    n = args.partitions or 2
    if n > MAX_PARTITIONS:
        raise UsageError(f"--partitions must be at most {MAX_PARTITIONS}")
    transport = "ray" if (args.ray or args.cluster) else "local"
    try:
        search = DistributedSearch(model, n, transport, address=args.cluster,
                                   bounds=_bounds(args), progress=not args.no_progress)
        return search.run()
    except ValueError as exc:          # Ray missing, a cluster that cannot be joined
        raise UsageError(str(exc)) from None


def _swarm_on(args) -> str | None:
    """Where the swarm runs: None (local worker processes), "local" (a local Ray) or a Ray
    cluster's address - Ray only with --workers N and no --partitions."""
    if getattr(args, "partitions", None) or getattr(args, "workers", 1) < 2:
        return None
    return args.cluster or ("local" if args.ray else None)


def run_check(model, args) -> CheckResult:
    ray = _swarm_on(args)
    if not ray and _split_search(args):
        return _partitioned(model, args)
    if getattr(args, "workers", 1) > 1:
        from .engines.parallel import swarm
        if ray and args.deadline:
            raise UsageError("--deadline is the local swarm's; the Ray swarm stops at its "
                             "first deciding result or Ctrl-C")
        try:
            result, _ = swarm(model.spec, model.scenario, model.params, args.workers,
                              _bounds(args), args.deadline, args.trace_dir, args.seed,
                              progress=not args.no_progress, ray=ray)
        except ValueError as exc:          # Ray missing, a cluster that cannot be joined
            raise UsageError(str(exc)) from None
        if result is None:
            raise UsageError("the swarm ended without a result: every worker failed or was "
                             "cancelled before reporting (raise --deadline?)")
        return result
    if args.engine in ("random", "pct"):
        from .engines.sampling import Sampler
        return Sampler(model, args.engine, seed=args.seed, runs=args.runs, steps=args.steps,
                       depth=args.pct_depth, bounds=_bounds(args),
                       shrink=not args.no_shrink).run()
    if args.engine == "stateful":
        from .engines.stateful import Stateful
        return Stateful(model, examples=args.examples, steps=args.steps, seed=args.seed,
                        derandomize=args.derandomize, bounds=_bounds(args),
                        shrink=not args.no_shrink).run()
    if args.por and (args.checkpoint or args.resume):
        raise UsageError("--por cannot be checkpointed (its sleep sets are not saved): drop "
                         "--por or --checkpoint/--resume")
    if args.resume:
        from .engines import checkpoint
        data = checkpoint.load(args.resume)
        if (data["spec"], data["scenario"]) != (model.spec, model.scenario):
            raise UsageError(f"{args.resume} is a checkpoint of {data['spec']} "
                             f"{data['scenario']}, not {model.spec} {model.scenario}")
        search = Search.resume(args.resume, progress=not args.no_progress,
                               checkpoint_every=args.checkpoint_every, bounds=_bounds(args))
        return _finish_checkpoint(search.run(), args.resume)
    if args.checkpoint and args.engine != "bfs":
        raise UsageError("--checkpoint needs --engine bfs")
    search = Search(model, args.engine, _bounds(args), progress=not args.no_progress,
                    stop_at_first=args.first, compact=args.compact, symmetry=args.symmetry,
                    checkpoint=args.checkpoint, checkpoint_every=args.checkpoint_every,
                    por=args.por)
    r = search.run()
    return _finish_checkpoint(r, args.checkpoint) if args.checkpoint else r


def _finish_checkpoint(r: CheckResult, path: str) -> CheckResult:
    """A search that ended for good (not by a budget or Ctrl-C) removes its checkpoint."""
    from .engines import checkpoint
    if r.stop in ("exhausted", "first", "max-depth"):
        if checkpoint.finish(path):
            r.notes.append(f"checkpoint {path} removed: the search finished")
    return r


def save_traces(result: CheckResult, trace_dir: str) -> None:
    for p in result.properties:
        if p.trace is not None and p.verdict is Verdict.VIOLATED and not p.trace_path:
            name = f"{_slug(result.spec)}-{_slug(result.scenario)}-{_slug(p.name)}.json"
            p.trace_path = str(p.trace.save(Path(trace_dir) / name))


def format_result(r: CheckResult) -> str:
    params = " ".join(f"{k}={v}" for k, v in r.params.items())
    how = ("exhaustive" if r.exhaustive else
           "sampled: never HOLDS" if r.stop in ("sampled", "first") and r.engine in
           ("random", "pct", "stateful") else f"stopped: {r.stop}")
    bounds = ", ".join(f"{k}={v}" for k, v in r.bounds.as_dict().items() if v is not None)
    lines = [f"khomc check {r.spec} {r.scenario}  {params}".rstrip(),
             f"  engine {r.engine} ({how}{'; ' + bounds if bounds else ''})"
             + (f"; reductions: {', '.join(r.reductions)}" if r.reductions else ""),
             f"  {r.distinct:,} distinct states, {r.transitions:,} transitions, depth {r.depth}, "
             f"{r.seconds:.2f} s, {r.states_per_s:,.0f} states/s"
             + (f", ~{r.bytes_per_state:,.0f} bytes/state" if r.bytes_per_state else ""), ""]
    width = max([len(p.name) for p in r.properties] + [8])
    lines.append(f"  {'property':<{width}}  {'kind':<11} {'verdict':<9} detail")
    for p in r.properties:
        lines.append(f"  {p.name:<{width}}  {p.kind:<11} {str(p.verdict):<9} {p.message}")
        if p.trace_path:
            lines.append(f"  {'':<{width}}  {'':<11} {'':<9} trace: {p.trace_path}")
    for note in r.notes:
        lines.append(f"  note: {note}")
    return "\n".join(lines) + "\n"


def _exit_for(results: list[CheckResult]) -> int:
    verdicts = [r.verdict for r in results]
    if Verdict.VIOLATED in verdicts:
        return EXIT_CODES[Verdict.VIOLATED]
    if Verdict.UNKNOWN in verdicts:
        return EXIT_CODES[Verdict.UNKNOWN]
    return EXIT_CODES[Verdict.HOLDS]


def _check_outputs(args) -> None:
    """Every output path of ``check`` is checked before any search (one line, exit 2)."""
    if args.resume and not os.path.isfile(args.resume):
        raise UsageError(f"--resume {args.resume}: no such file")
    if args.trace_dir:
        writable_dir(args.trace_dir, "--trace-dir")
    for option in ("checkpoint", "resume"):
        path = getattr(args, option, None)
        if path:
            writable_file(path, f"--{option}")
            from .engines import checkpoint
            checkpoint.clean_stale(path)          # temporaries of a killed run


def cmd_check(args, out) -> int:
    params = _params(args.params)
    if args.fail_allocs is not None:
        params["fail_allocs"] = str(args.fail_allocs)
    if args.scenario:
        names = [registry.scenario(args.spec, args.scenario).name]
        symmetric = set()
    else:        # every default scenario, those the review checks up to symmetry with it
        names = [s.name for s in registry.scenarios(args.spec) if s.default]
        symmetric = {s.name for s in registry.scenarios(args.spec) if s.default and s.symmetry}
        if _split_search(args):         # partitions do not reduce: the plain search, split
            symmetric = set()
    for n in names:                        # every parameter checked before any search
        registry.check_params(args.spec, n, params)
    _check_outputs(args)
    results = []
    interrupted = False
    for n in names:
        try:
            model, args._build_seconds = timed_build(args.spec, n, params, args.time_limit)
        except _BuildTimeout:
            out.write(f"khomc check {args.spec} {n}: UNKNOWN: building the model took longer "
                      f"than --time-limit {args.time_limit:g} s\n")
            results.append(None)
            continue
        r = run_check(model, argparse.Namespace(**{**vars(args), "symmetry": True})
                      if n in symmetric else args)
        save_traces(r, args.trace_dir)
        results.append(r)
        if not args.json:
            out.write(format_result(r))
            out.flush()
        if r.stop == "interrupted":
            interrupted = True
            break
    timed_out = None in results
    results = [r for r in results if r is not None]
    if args.json:
        out.write(json.dumps([r.as_dict() for r in results], indent=1) + "\n")
    if interrupted:
        return EXIT_INTERRUPTED
    code = _exit_for(results)
    return EXIT_CODES[Verdict.UNKNOWN] if timed_out and code == 0 else code


def _check_output(path: str | None, what: str) -> None:
    """Refuse an output path that cannot be written, before any work (one line, exit 2)."""
    if path is None:
        return
    p = Path(path)
    parent = p.parent if str(p.parent) else Path(".")
    if p.is_dir():
        raise UsageError(f"{what} {path}: is a directory")
    if not parent.is_dir():
        raise UsageError(f"{what} {path}: no such directory {str(parent)!r}")
    if not os.access(parent, os.W_OK) or (p.exists() and not os.access(p, os.W_OK)):
        raise UsageError(f"{what} {path}: not writable")


def _write_exports(args, trace, model, states, steps, out, result=None,
                   reproduced: bool = True) -> None:
    from . import trace_export
    if args.itf:
        if model is None:
            out.write(f"  no ITF written: {result.line()}\n")
        else:
            loop = trace.loop_start if result is None else None
            doc = trace_export.itf(trace, model, states, steps, loop,
                                   args.against if result is not None else None)
            out.write(f"  wrote {trace_export.write_itf(args.itf, doc)} (ITF, {len(states)} "
                      "states)\n")
    if args.pytest and result is None and not reproduced:
        out.write("  no pytest written: the trace does not reproduce its verdict on "
                  f"{trace.spec} (a regression test of it would fail at once)\n")
    elif args.pytest:
        src = (trace_export.pytest_source(trace, origin=args.trace) if result is None else
               trace_export.pytest_source(trace, args.against, result.outcome, result.step,
                                          origin=args.trace))
        out.write(f"  wrote {trace_export.write_pytest(args.pytest, src)} (pytest)\n")


def cmd_replay(args, out) -> int:
    trace = Trace.load(args.trace)
    _check_output(args.itf, "--itf")
    _check_output(args.pytest, "--pytest")
    if args.against:
        return _replay_against(trace, args, out)
    try:
        model = registry.build(trace.spec, trace.scenario, trace.params)
    except registry.UnknownName as exc:
        raise TraceError(f"{args.trace}: mismatched trace: {exc}") from None
    try:
        check_matches(trace, model)
    except TraceError as exc:
        raise TraceError(f"{args.trace}: {exc}") from None
    result = replay(trace, model)
    if result.divergence is not None:
        step, why = result.divergence
        verdict, code = "DIVERGED", EXIT_CODES[Verdict.UNKNOWN]
        line = f"replay {args.trace}: DIVERGED at step {step}: {why}"
    elif result.reproduced and trace.verdict == "VIOLATED":
        verdict, code = "VIOLATED", EXIT_CODES[Verdict.VIOLATED]
        line = (f"replay {args.trace}: VIOLATED reproduced in {result.steps_ok} steps: "
                f"{trace.property}: {result.message}")
    elif result.reproduced:
        verdict, code = trace.verdict, 0
        line = f"replay {args.trace}: {trace.verdict} reproduced: {result.message}"
    else:
        verdict, code = "NOT REPRODUCED", 0
        line = (f"replay {args.trace}: all {result.steps_ok} steps replay but the recorded "
                f"{trace.verdict} does not reproduce: {result.message}")
    if args.json:
        out.write(json.dumps({"trace": args.trace, "verdict": verdict,
                              "steps_ok": result.steps_ok,
                              "divergence": result.divergence, "message": result.message}) + "\n")
    else:
        if not args.quiet:
            out.write(trace.render())
            out.write("\n")
        out.write(line + "\n")
    _write_exports(args, trace, model, result.states, trace.steps[:result.steps_ok],
                   sys.stderr if args.json else out, reproduced=result.ok)
    return code


def cmd_graph(args, out) -> int:
    from .engines import graph
    from .runtime.spec import Property
    from .trace import make_trace
    params = _params(args.params)
    registry.check_params(args.spec, args.scenario, params)
    for option in ("dot", "graphml"):
        if getattr(args, option):
            writable_file(getattr(args, option), f"--{option}")
    model = registry.build(args.spec, args.scenario, params)
    search = Search(model, "bfs", Bounds(max_states=args.max_states),
                    graph_limit=args.max_states)
    r = search.run()
    out.write(f"khomc graph {r.spec} {r.scenario}: {r.distinct:,} states, "
              f"{r.transitions:,} transitions ({'exhaustive' if r.exhaustive else r.stop})\n")
    if args.dot or args.graphml:
        try:
            g = graph.state_graph(search, args.export_limit)
        except graph.ExportError as exc:
            raise UsageError(str(exc)) from None
        if args.dot:
            out.write(f"  wrote {graph.write_dot(g, args.dot)}\n")
        if args.graphml:
            out.write(f"  wrote {graph.write_graphml(g, args.graphml)}\n")
    found = 0
    prop = Property("terminates", "termination", None, "")
    for entry, cycle in graph.livelocks(search):
        found += 1
        t = make_trace(model, search.schedule(entry), prop, "VIOLATED",
                       "a terminal cycle: no run that gets here can ever finish", "bfs",
                       search.bounds.as_dict(), loop=cycle)
        out.write(f"\nlivelock {found}: a terminal strongly connected component entered after "
                  f"{search.depth[entry]} steps\n")
        out.write(t.render())
    order = graph.lock_order(search)
    cycles = graph.lock_cycles(order)
    out.write(f"\nlock order: {order.number_of_nodes()} lock(s), "
              f"{order.number_of_edges()} dependency edge(s)\n")
    for a, b, data in order.edges(data=True):
        out.write(f"  {a} -> {b}   ({data['task']} acquires {b} holding {a}, state "
                  f"#{data['state']})\n")
    for c in cycles:
        found += 1
        chain = " -> ".join(c + [c[0]])
        out.write(f"\nWARNING: possible circular locking dependency: {chain}\n")
        for a, b in zip(c, c[1:] + c[:1]):
            d = order.edges[a, b]
            out.write(f"  {d['task']} takes {b} while holding {a} (state #{d['state']})\n")
        out.write("  no explored run needs to deadlock for this to be reported "
                  "(lockdep's closure)\n")
    if found:
        return 1
    return 0 if r.exhaustive else 3


def _replay_against(trace: Trace, args, out) -> int:
    """Map a counterexample's schedule onto another era (khomc.trace_against): GONE (exit 0),
    STILL (exit 1) or CANNOT APPLY at step k (exit 3)."""
    from .trace_against import replay_against
    result = replay_against(trace, args.against)
    line = f"replay {args.trace} against {args.against}: {result.line()}"
    if args.json:
        out.write(json.dumps({"trace": args.trace, **result.as_json()}) + "\n")
    else:
        if not args.quiet:
            out.write(result.render() + "\n")
        out.write(line + "\n")
    _write_exports(args, trace, result.model, result.states, result.steps,
                   sys.stderr if args.json else out, result)
    return result.exit_code


def _expect_error():
    from .report.review import ExpectError
    return ExpectError


def cmd_review(args, out) -> int:
    from .report import review
    writable_dir(args.out, "--out")          # before any check runs
    if args.ray or args.cluster:
        try:
            from .engines.dist_ray import _ray
            _ray()
        except ValueError as exc:            # Ray not installed
            raise UsageError(str(exc)) from None
    try:
        return review.run(args, out)
    except ValueError as exc:
        if type(exc).__name__ == "RayUnavailable":   # a cluster that cannot be joined
            raise UsageError(str(exc)) from None
        raise


def cmd_prove(args, out) -> int:
    """Exit 0 when every obligation is as expected, 1 when one is not, 3 on UNKNOWN, 2 for an
    unknown era (see khomc.smt.catalog)."""
    from . import smt
    try:
        runs = smt.plan(args.era)
    except smt.UnknownEra as exc:
        raise UsageError(exc.args[0]) from None
    results = []
    if not args.json:
        out.write(f"{'obligation':<72} {'eras':<21} {'kind':<13} {'status':<8} {'time':>7}  "
                  "counterexample / reason\n")
    for _, run in runs:
        r = run(args.seed)
        results.append(r)
        if not args.json:
            flag = "" if r.as_expected else f" (expected {r.expected})"
            detail = r.counterexample_text() or r.reason
            out.write(f"{r.name:<72} {','.join(r.eras):<21} {r.kind:<13} {r.status!s:<8} "
                      f"{r.seconds:6.2f}s  {detail}{flag}\n")
            out.flush()
    if args.json:
        out.write(json.dumps([r.as_dict() for r in results], indent=2) + "\n")
    else:
        proved = sum(r.status is smt.Status.PROVED for r in results)
        refuted = sum(r.status is smt.Status.REFUTED for r in results)
        odd = sum(not r.as_expected for r in results)
        out.write(f"{len(results)} obligations: {proved} PROVED, {refuted} REFUTED, "
                  f"{len(results) - proved - refuted} UNKNOWN; {odd} not as expected; "
                  f"seed {args.seed}\n")
    return smt.exit_code(results)


COMMANDS = {"list": cmd_list, "bisect": cmd_bisect, "check": cmd_check, "replay": cmd_replay, "graph": cmd_graph,
            "review": cmd_review, "prove": cmd_prove}


def entry() -> None:
    """The ``khomc`` console script: :func:`main` in this process.  Nothing that crosses a
    process boundary depends on the interpreter's hash seed (checkpoints hold no fingerprints,
    workers report JSON), so no fixed PYTHONHASHSEED (and no re-exec) is needed.

    Before exiting, every object still alive is moved out of the cyclic collector's reach
    (``gc.freeze``): the interpreter's last collection would otherwise walk all of a search's
    states once more for no garbage (about 1.5 CPU seconds after ``khomc check v5
    three-preservers``).  In-process callers of :func:`main` (the tests) are not affected."""
    rc = main()
    gc.freeze()
    sys.exit(rc)


def main(argv: list[str] | None = None, out=None) -> int:
    out = out or sys.stdout
    try:
        args = build_parser().parse_args(argv)
        return COMMANDS[args.command](args, out)
    except UsageError as exc:
        sys.stderr.write(f"khomc: error: {exc}\n")
        return EXIT_USAGE
    except (registry.UnknownName, TraceError, CheckpointError, _expect_error()) as exc:
        sys.stderr.write(f"khomc: error: {exc.args[0] if exc.args else exc}\n")
        return EXIT_USAGE
    except SpecError as exc:
        sys.stderr.write(f"khomc: spec error: {exc}\n")
        return EXIT_USAGE
    except KeyboardInterrupt:
        sys.stderr.write("khomc: interrupted\n")
        return EXIT_INTERRUPTED
    except BrokenPipeError:  # `khomc ... | head`
        signal.signal(signal.SIGPIPE, signal.SIG_DFL)
        return 0
    except OSError as exc:   # an output that became unwritable during the run (disk full...)
        where = f"{exc.filename}: " if getattr(exc, "filename", None) else ""
        sys.stderr.write(f"khomc: error: {where}{exc.strerror or exc}\n")
        return EXIT_USAGE


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
