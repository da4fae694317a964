"""Benchmark: khomc's exhaustive BFS on the SPIN-comparable model, beside two baselines.

Runs, in one process and one after the other on one core:

* khomc BFS (memoized task table: each task transition computed once, then looked up);
* the same engine with its caches off (every step re-creates the task's coroutine by replaying
  its observations - the "naive" way to drive async model code), at a smaller size it can finish;
* a hand-written flat-tuple BFS of the same semantics (properties/engine/oracle.py), the
  ceiling for a Python checker of this model.

Distinct states per second and transitions per second are printed for each, with the ratios.
The termination analysis is off (``graph_limit=0``) so the figures measure the search alone.

    python bench/bench_spin.py                 # N=4 K=6 (about 20-40 s) and baseline at N=3 K=3
    python bench/bench_spin.py --size 4x4 --baseline 2x2
"""

from __future__ import annotations

import argparse
import platform
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "properties" / "engine"))

from khomc.engines.search import Search  # noqa: E402
from khomc.registry import build  # noqa: E402
import oracle  # noqa: E402


def size(text: str) -> tuple[int, int]:
    n, k = text.lower().split("x")
    return int(n), int(k)


def run_khomc(n: int, k: int, bug: bool, memo: bool = True) -> dict:
    model = build("spinkho", "bug" if bug else "ok", {"N": n, "K": k})
    model.table.memo = memo
    r = Search(model, "bfs", graph_limit=0).run()
    return {"what": "khomc bfs" + ("" if memo else " (caches off)"), "N": n, "K": k,
            "distinct": r.distinct, "transitions": r.transitions, "seconds": r.seconds}


def run_oracle(n: int, k: int, bug: bool) -> dict:
    t0 = time.perf_counter()
    distinct, transitions, _ = oracle.explore(n, k, bug)
    return {"what": "hand-written tuple bfs", "N": n, "K": k, "distinct": distinct,
            "transitions": transitions, "seconds": time.perf_counter() - t0}


def line(row: dict) -> str:
    s = row["seconds"]
    return (f"{row['what']:<26} N={row['N']} K={row['K']}  {row['distinct']:>10,} states "
            f"{row['transitions']:>11,} transitions  {s:7.2f} s  "
            f"{row['distinct'] / s:>10,.0f} states/s  {row['transitions'] / s:>11,.0f} trans/s")


def rate(row: dict) -> float:
    return row["distinct"] / row["seconds"]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=size, default=(4, 6), help="NxK for khomc and the tuple BFS")
    ap.add_argument("--baseline", type=size, default=(3, 3), help="NxK for the caches-off run")
    ap.add_argument("--bug", action="store_true", help="the BUG variant instead of the OK one")
    args = ap.parse_args(argv)
    print(f"# khomc benchmark: spinkho {'bug' if args.bug else 'ok'}; "
          f"{platform.python_implementation()} {platform.python_version()}, "
          f"{platform.machine()}, one core")
    (n, k), (bn, bk) = args.size, args.baseline
    small_fast = run_khomc(bn, bk, args.bug)
    small_naive = run_khomc(bn, bk, args.bug, memo=False)
    big = run_khomc(n, k, args.bug)
    big_hand = run_oracle(n, k, args.bug)
    for row in (small_fast, small_naive, big, big_hand):
        print(line(row))
    assert (big["distinct"], big["transitions"]) == (big_hand["distinct"], big_hand["transitions"])
    assert small_fast["distinct"] == small_naive["distinct"]
    print(f"ratio khomc / caches-off at N={bn} K={bk}: {rate(small_fast) / rate(small_naive):.1f}x")
    print(f"ratio khomc / hand-written tuple BFS at N={n} K={k}: "
          f"{rate(big) / rate(big_hand):.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
