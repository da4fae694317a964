"""Benchmark: khomc's exhaustive BFS on the largest default scenario of each KHO era.

For each era (spec) it picks the default scenario with the most states (measured, not guessed),
and runs it twice on one core: as shipped (memoized task table) and with the task table's caches
off (every step replays the task's coroutine from its observations), printing distinct
states/s, transitions/s and the ratio.

    python bench/bench_kho.py                 # every KHO era in the registry
    python bench/bench_kho.py --spec v5
"""

from __future__ import annotations

import argparse
import platform
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from khomc import registry  # noqa: E402
from khomc.engines.search import Search  # noqa: E402


def run(spec: str, scenario, memo: bool):
    model = scenario.instantiate()
    model.table.memo = memo
    return Search(model, "bfs", graph_limit=0).run()


def largest(spec: str):
    sizes = [(run(spec, sc, True).distinct, sc) for sc in registry.scenarios(spec) if sc.default]
    return max(sizes, key=lambda x: x[0])[1]


def line(what, r) -> str:
    return (f"{what:<40} {r.distinct:>9,} states {r.transitions:>10,} transitions "
            f"{r.seconds:7.2f} s {r.states_per_s:>9,.0f} states/s "
            f"{r.transitions_per_s:>10,.0f} trans/s")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--spec", action="append", help="eras to measure (default: every KHO era)")
    args = ap.parse_args(argv)
    specs = args.spec or [s for s in registry.SPECS if s not in ("counter", "spinkho")]
    print(f"# khomc KHO benchmark; {platform.python_implementation()} "
          f"{platform.python_version()}, {platform.machine()}, one core")
    for spec in specs:
        sc = largest(spec)
        fast = run(spec, sc, True)
        slow = run(spec, sc, False)
        assert (fast.distinct, fast.transitions) == (slow.distinct, slow.transitions)
        print(line(f"{spec}/{sc.name}", fast))
        print(line(f"{spec}/{sc.name} (caches off)", slow))
        print(f"  ratio: {fast.states_per_s / slow.states_per_s:.1f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
