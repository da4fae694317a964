"""States/s of one BFS split over 1, 2 and 4 hash partitions, beside the single-process BFS.

A benchmark, never a test.  For each model it runs, in one process and one after the other, the
single-process ``Search(model, 'bfs')`` and the partitioned search (khomc.engines.distributed)
with the local transport (worker processes) and, when Ray is installed, the Ray transport (a
local Ray started once, with this machine's cores), for 1, 2 and 4 partitions.  Every run
checks that its distinct-state and transition counts equal the single-process ones.

Reported per run: wall seconds (worker start-up included, and separately), states/s (over
the search, start-up excluded), scaling
efficiency ``rate(P) / (P * rate(1 partition))`` of the same transport and the speed-up over the
single-process BFS, per-partition balance, and memory per state per worker (RSS growth of each
worker over the states it owns).  The state graph is not recorded (``graph_limit=0``) in any
run, so ``terminates`` is UNKNOWN everywhere and only the search itself is timed.

    python bench/bench_distributed.py                 # spinkho N=4 K=6, v5 fdbox-race fail_allocs=1
    python bench/bench_distributed.py --quick         # smaller models (seconds)
    python bench/bench_distributed.py --no-ray        # the local transport only

The load of the machine (``os.getloadavg``) is printed before and after: the figures are only
comparable within one run.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

from khomc.engines.distributed import DistributedSearch  # noqa: E402
from khomc.engines.search import Search  # noqa: E402
from khomc.registry import build  # noqa: E402

MODELS = [("spinkho", "ok", {"N": 4, "K": 6}), ("v5", "fdbox-race", {"fail_allocs": 1})]
QUICK = [("spinkho", "ok", {"N": 3, "K": 4}), ("v5", "fdbox-race", {})]


def load() -> str:
    return "load average " + ", ".join(f"{x:.2f}" for x in os.getloadavg())


def row(label, r, open_s, base_rate, one_rate, parts, rss):
    rate = r.distinct / max(1e-9, r.seconds - open_s)      # the search, start-up excluded
    eff = "" if one_rate is None else f"{rate / (parts * one_rate):.2f}"
    per = "" if not rss else f"{sum(rss) / max(1, r.distinct):,.0f}"
    bal = "" if parts is None else "/".join(
        f"{100 * b / max(1, sum(r._balance)):.0f}" for b in r._balance)
    print(f"| {label:<22} | {r.distinct:>10,} | {r.seconds:>7.1f} | {open_s:>5.1f} | "
          f"{rate:>9,.0f} | {eff:>5} | {rate / base_rate:>5.2f} | {bal:>11} | {per:>9} |",
          flush=True)
    return rate


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--no-ray", action="store_true")
    ap.add_argument("--partitions", default="1,2,4")
    args = ap.parse_args(argv)
    parts = [int(x) for x in args.partitions.split(",")]
    transports = ["local"]
    if not args.no_ray:
        try:
            import ray  # noqa: F401
            transports.append("ray")
        except ImportError:
            print("ray is not installed: the Ray transport is skipped")
    print(f"{os.cpu_count()} cores; {load()}")
    if "ray" in transports:
        from khomc.engines import dist_ray
        os.environ.setdefault("RAY_AUTH_MODE", "disabled")
        t = time.perf_counter()
        dist_ray.connect(None)
        print(f"local Ray started in {time.perf_counter() - t:.1f} s (once, not counted)")
    for spec, scenario, params in (QUICK if args.quick else MODELS):
        ptxt = " ".join(f"{k}={v}" for k, v in params.items())
        print(f"\n{spec} {scenario} {ptxt}\n")
        print("| run                    |     states |       s | start |  states/s |  eff. |"
              "  vs 1 | balance (%) | B/state/worker |")
        print("|---|---:|---:|---:|---:|---:|---:|---|---:|")
        single = Search(build(spec, scenario, params), "bfs", graph_limit=0).run()
        single._balance = [single.distinct]
        base = row("single-process BFS", single, 0.0, single.distinct / single.seconds,
                   None, None, [single.bytes_per_state * single.distinct])
        for tr in transports:
            one = None
            for n in parts:
                s = DistributedSearch(build(spec, scenario, params), n, tr, graph_limit=0)
                r = s.run()
                assert (r.distinct, r.transitions) == (single.distinct, single.transitions), \
                    (tr, n, r.distinct, single.distinct)
                r._balance = s.balance
                rate = row(f"{tr} x{n}", r, s._open_seconds, base, one, n, s.rss)
                if n == 1:
                    one = rate
        print(f"\n{load()}")
    if "ray" in transports:
        import ray
        ray.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
