"""A worker process of a swarm or a parallel review: one check, reported as JSON lines.

Owns the worker side of the protocol spoken with :mod:`khomc.engines.parallel`.  It is run as
``python -m khomc.engines.worker JOB`` where JOB is a JSON object (spec, scenario, params,
engine, bounds, seed, trace_dir, ...).  It writes to stdout one JSON object per line:
``{"progress": [distinct, rate, depth, frontier]}`` while searching, then
``{"result": CheckResult.as_dict()}`` with the paths of the traces it saved.  On SIGINT or
SIGTERM it stops its search and still reports what it reached.
"""

from __future__ import annotations

import gc
import json
import signal
import sys
from pathlib import Path

from .. import registry
from .result import Bounds, CheckResult, Verdict


def _emit(obj) -> None:
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


def run_job(job: dict) -> CheckResult:
    model = registry.build(job["spec"], job["scenario"], job.get("params") or {})
    bounds = Bounds(**(job.get("bounds") or {}))
    engine = job.get("engine", "bfs")
    seed = int(job.get("seed", 0))
    if engine in ("random", "pct"):
        from .sampling import Sampler
        return Sampler(model, engine, seed=seed, runs=job.get("runs", 1000),
                       steps=job.get("steps", 100), depth=job.get("pct_depth", 3),
                       bounds=bounds).run()
    if engine == "stateful":
        from .stateful import Stateful
        return Stateful(model, examples=job.get("examples", 200), steps=job.get("steps", 60),
                        seed=seed, bounds=bounds).run()
    from .search import Search
    search = Search(model, engine, bounds, progress=True, stop_at_first=job.get("first", False),
                    compact=job.get("compact", False), symmetry=job.get("symmetry", False),
                    shuffle=job.get("shuffle"))
    search.progress.report = lambda d, r, depth, f: _emit({"progress": [d, r, depth, f]})
    return search.run()


def save_traces(result: CheckResult, trace_dir: str | None, tag: str = "") -> None:
    if not trace_dir:
        return
    import re
    for p in result.properties:
        if p.trace is not None and p.verdict is Verdict.VIOLATED:
            slug = "-".join(re.sub(r"[^A-Za-z0-9]+", "-", x).strip("-").lower()
                            for x in (result.spec, result.scenario, p.name))
            p.trace_path = str(p.trace.save(Path(trace_dir) / f"{slug}{tag}.json"))


def _interrupt(signum, frame):
    raise KeyboardInterrupt


def main(argv=None) -> int:
    """Exit 0 after reporting a result; 2 with one line on stderr for a job that cannot run
    (bad JSON, an unknown spec or scenario, a parameter out of range, a spec error), which
    the coordinator shows as the worker's error."""
    from ..runtime.tasks import SpecError
    argv = sys.argv[1:] if argv is None else argv
    try:
        job = json.loads(argv[0]) if argv else None
        if not isinstance(job, dict):
            raise ValueError("the job must be a JSON object")
        signal.signal(signal.SIGTERM, _interrupt)
        result = run_job(job)
        save_traces(result, job.get("trace_dir"), job.get("tag", ""))
    except (ValueError, TypeError, KeyError, registry.UnknownName, SpecError) as exc:
        sys.stderr.write(f"khomc worker: error: {exc.args[0] if exc.args else exc}\n")
        return 2
    _emit({"result": result.as_dict()})
    return 0


if __name__ == "__main__":
    rc = main()
    gc.freeze()     # the exit's last collection would walk the finished search (cli.entry)
    sys.exit(rc)
