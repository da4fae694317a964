"""Benchmark: khomc's exhaustive BFS on the largest default scenario of each KHO era.

For each era (spec) it picks the default scenario with the most states (measured, not guessed),
and runs it on one core, each run in a fresh Python process: as shipped (memoized task table
and effect memo), with ``--before DIR`` also with the khomc package found in DIR (a folder
holding a ``khomc`` package, e.g. a symlink to an older checkout's ``model/``), and with the
task table's caches off (every step replays the task's coroutine from its observations; the
effect memo is off too), printing distinct states/s, transitions/s and the ratios of the same
run.

    python bench/bench_kho.py                         # every KHO era in the registry
    python bench/bench_kho.py --spec v5 --spec k6.16
    python bench/bench_kho.py --before /tmp/old --no-caches-off
    python bench/bench_kho.py --scenario fdbox-race --before /tmp/old --repeat 3
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

RUN = r"""
import json, sys
from khomc import registry
from khomc.engines.search import Search
spec, name, memo, sym = sys.argv[1], sys.argv[2], sys.argv[3] == "1", sys.argv[4] == "1"
sc = next(s for s in registry.scenarios(spec) if s.name == name)
model = sc.instantiate()
model.table.memo = memo
import time
c = time.process_time()
r = Search(model, "bfs", graph_limit=0, symmetry=sym).run()
c = time.process_time() - c
print(json.dumps({"distinct": r.distinct, "transitions": r.transitions, "seconds": r.seconds,
                  "cpu": c,
                  "verdicts": {p.name: p.verdict.name for p in r.properties}}))
"""


def run(spec: str, name: str, memo: bool, pythonpath: str | None = None,
        symmetry: bool = False) -> dict:
    env = dict(os.environ)
    if pythonpath:
        env["PYTHONPATH"] = pythonpath
    p = subprocess.run([sys.executable, "-c", RUN, spec, name, "1" if memo else "0",
                        "1" if symmetry else "0"],
                       capture_output=True, text=True, env=env,
                       cwd=tempfile.gettempdir() if pythonpath else ROOT)
    if p.returncode != 0:
        return {"error": (p.stderr.strip().splitlines() or ["failed"])[-1]}
    return json.loads(p.stdout.strip().splitlines()[-1])


def largest(spec: str) -> str:
    """The default scenario whose search, as the review runs it (up to symmetry where the
    scenario says so), stores the most states."""
    from khomc import registry
    from khomc.engines.search import Search
    sizes = [(Search(sc.instantiate(), "bfs", graph_limit=0, symmetry=sc.symmetry).run()
              .distinct, sc.name) for sc in registry.scenarios(spec) if sc.default]
    return max(sizes)[1]


def reviewed_symmetric(spec: str, name: str) -> bool:
    from khomc import registry
    return next(s for s in registry.scenarios(spec) if s.name == name).symmetry


def median(rs: list) -> dict:
    """The round with the median search time (a failed round counts as the slowest)."""
    ok = sorted((r for r in rs if "error" not in r), key=lambda r: r["seconds"])
    return ok[(len(ok) - 1) // 2] if ok else rs[0]


def line(what, r) -> str:
    if "error" in r:
        return f"{what:<44} failed: {r['error'][:100]}"
    sps = r["distinct"] / r["seconds"]
    tps = r["transitions"] / r["seconds"]
    return (f"{what:<44} {r['distinct']:>9,} states {r['transitions']:>10,} transitions "
            f"{r['seconds']:7.2f} s {sps:>9,.0f} states/s {tps:>10,.0f} trans/s "
            f"{r['distinct'] / r['cpu']:>9,.0f} states/CPU s")


def main(argv=None) -> int:
    from khomc import registry
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--spec", action="append", help="eras to measure (default: every KHO era)")
    ap.add_argument("--before", help="a folder holding another khomc package to time as well")
    ap.add_argument("--no-caches-off", action="store_true", help="skip the replay baseline")
    ap.add_argument("--scenario", help="run this scenario of each era instead of its largest "
                    "default one (e.g. fdbox-race, which every era and older trees have)")
    ap.add_argument("--repeat", type=int, default=1,
                    help="rounds, alternating the runs (the median round is reported)")
    args = ap.parse_args(argv)
    specs = args.spec or [s for s in registry.SPECS if s not in ("counter", "spinkho")]
    print(f"# khomc KHO benchmark; {platform.python_implementation()} "
          f"{platform.python_version()}, {platform.machine()}, one core, "
          f"load {os.getloadavg()[0]:.2f}")
    bad = False
    for spec in specs:
        name = args.scenario or largest(spec)
        sym = reviewed_symmetric(spec, name)
        rounds: dict = {}
        for _ in range(max(1, args.repeat)):      # alternating, so a load change hits all
            if sym:     # the review checks it up to symmetry: that search, beside the plain
                rounds.setdefault(" (symmetry, as reviewed)", []).append(
                    run(spec, name, True, symmetry=True))
            rounds.setdefault("", []).append(run(spec, name, True))
            if args.before:
                rounds.setdefault(" (before)", []).append(run(spec, name, True, args.before))
            if not args.no_caches_off:
                rounds.setdefault(" (caches off)", []).append(run(spec, name, False))
        rows = {tag: median(rs) for tag, rs in rounds.items()}
        for tag, r in rows.items():
            print(line(f"{spec}/{name}{tag}", r))
        fast = rows[""]
        red = rows.get(" (symmetry, as reviewed)")
        if red is not None and "error" not in red and "error" not in fast:
            print(f"  time to the safety verdicts, plain / up to symmetry: "
                  f"{fast['seconds'] / red['seconds']:.2f}x "
                  f"({fast['distinct'] / red['distinct']:.2f}x fewer states)")
        for tag, r in rows.items():
            if tag.startswith(" (symmetry"):
                continue
            if tag and "error" not in r and "error" not in fast:
                if (r["distinct"], r["transitions"]) != (fast["distinct"], fast["transitions"]):
                    print(f"  MISMATCH{tag}: counts differ")
                    bad = True
                print(f"  ratio to{tag}: "
                      f"{(fast['distinct'] / fast['seconds']) / (r['distinct'] / r['seconds']):.2f}x")
    print(f"# load at the end {os.getloadavg()[0]:.2f}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
