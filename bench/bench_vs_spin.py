"""Benchmark: khomc beside SPIN on the SPIN-comparable KHO model (issue 6, item 7).

One script, one table.  It installs Debian's ``spin`` if it is missing (``apt-get install -y
spin``; without it the SPIN rows are skipped with a message), then for each size N x K:

* SPIN on ``bench/spin/kho.pml`` at two granularities - the appendix's Promela statements
  (``STEPS=0``) and khomc's steps (``STEPS=1``) - each with its partial-order reduction (the
  default) and without (``-DNOREDUCE``): ``spin -a``, ``gcc -O2 -DSAFETY``, ``./pan``, in a
  temporary directory;
* khomc's exhaustive BFS on ``spinkho`` (model/examples/spinkho.py), in this process;
* the hand-written flat-tuple BFS of the same semantics (properties/engine/oracle.py), run in
  the same process as a machine-speed baseline (the ceiling for a Python checker of this model).

It prints distinct states, transitions, search time, time to verdict (SPIN: ``spin -a`` + gcc +
pan, wall clock), states/s and memory, and checks that SPIN at khomc's granularity without
reduction finds exactly khomc's distinct states and transitions.  Then, on the BUG variant, the
time to the first counterexample: SPIN end to end (``spin -a`` + gcc + pan) at both
granularities; khomc's BFS with ``stop_at_first`` (in this process, and as a fresh ``khomc check
--first`` process including interpreter start-up); khomc's hypothesis stateful engine.

    python bench/bench_vs_spin.py                       # N=4 K=6, 40-90 s
    python bench/bench_vs_spin.py --size 4x8            # SPIN 2-5 s, khomc about a minute
    python bench/bench_vs_spin.py --size 3x3 --size 4x6 --bug-size 4x6
    python bench/bench_vs_spin.py --no-khomc --size 5x6 # SPIN only (5x6: ~50 s, ~3 GB)

Exit status: 0, or 1 if a count that must match did not, or a verdict was wrong.
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PML = ROOT / "bench" / "spin" / "kho.pml"
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "properties" / "engine"))

PAN_DEPTH = 1_000_000     # -m: pan's DFS stack limit (depth reached at 5x6 is ~17 k)


# -- SPIN ------------------------------------------------------------------------------------

def ensure_spin(install: bool = True) -> str | None:
    """None if spin and gcc are usable, else why not (after trying apt-get if allowed)."""
    if shutil.which("gcc") is None:
        return "gcc is not on PATH (SPIN's verifiers are C programs)"
    if shutil.which("spin") is not None:
        return None
    if not install:
        return "spin is not on PATH and --no-install was given"
    apt = shutil.which("apt-get")
    if apt is None:
        return "spin is not on PATH and there is no apt-get to install it"
    if hasattr(os, "geteuid") and os.geteuid() != 0:
        return "spin is not on PATH and apt-get needs root (run: sudo apt-get install -y spin)"
    for cmd in ([apt, "install", "-y", "spin"], [apt, "update"], [apt, "install", "-y", "spin"]):
        if cmd[1] == "update" and shutil.which("spin"):
            break
        print(f"# spin missing: running {' '.join(cmd[1:])!r} ...", flush=True)
        p = subprocess.run(cmd, capture_output=True, text=True,
                           env=dict(os.environ, DEBIAN_FRONTEND="noninteractive"))
        tail = (p.stdout + p.stderr).strip().splitlines()[-3:]
        for ln in tail:
            print(f"#   {ln}")
        if p.returncode == 0 and cmd[1] == "install" and shutil.which("spin"):
            break
    if shutil.which("spin") is None:
        return "apt-get could not install spin (see above)"
    return None


def spin_version() -> str:
    p = subprocess.run(["spin", "-V"], capture_output=True, text=True)
    return p.stdout.strip()


def _num(text: str) -> int:
    return int(float(text))       # pan prints large counts as e.g. 1.1996116e+08


def parse_pan(out: str) -> dict:
    """The figures of one pan run, from its report."""
    def grab(pattern, conv=_num, default=None):
        m = re.search(pattern, out)
        return conv(m.group(1)) if m else default

    return {
        "stored": grab(r"([\d.e+]+) states, stored"),
        "matched": grab(r"([\d.e+]+) states, matched"),
        "transitions": grab(r"([\d.e+]+) transitions \(= stored\+matched\)"),
        "errors": grab(r"errors: (\d+)", int, 0),
        "depth": grab(r"depth reached (\d+)", int),
        "violation_depth": grab(r"assertion violated.*\(at depth (\d+)\)", int),
        "pan_seconds": grab(r"pan: elapsed time ([\d.e+-]+) seconds", float),
        "memory_mb": grab(r"([\d.]+)\s+total actual memory usage", float),
        "truncated": "max search depth too small" in out,
        "por": "+ Partial Order Reduction" in out,
    }


def run_spin(n: int, k: int, bug: bool, steps: bool, reduce: bool, w: int | None,
             workdir: Path) -> dict:
    """spin -a, gcc, ./pan for one configuration; wall-clock times of each stage."""
    d = Path(tempfile.mkdtemp(dir=workdir))
    shutil.copy(PML, d / "kho.pml")
    defs = [f"-DN={n}", f"-DK={k}", f"-DBUG={int(bug)}", f"-DSTEPS={int(steps)}"]
    gcc = ["gcc", "-O2", "-DSAFETY"] + ([] if reduce else ["-DNOREDUCE"]) + ["-o", "pan", "pan.c"]
    # the exhaustive runs get a deep stack and a sized hash table; the BUG runs pan's defaults
    pan = ["./pan"] + ([f"-m{PAN_DEPTH}", f"-w{w}"] if w else [])
    stages = {}
    cpu = {}
    out = ""
    for name, cmd in (("spin -a", ["spin", *defs, "-a", "kho.pml"]), ("gcc", gcc), ("pan", pan)):
        c0 = children_cpu()
        t0 = time.perf_counter()
        p = subprocess.run(cmd, cwd=d, capture_output=True, text=True)
        stages[name] = time.perf_counter() - t0
        cpu[name] = children_cpu() - c0
        if name != "pan" and p.returncode != 0:
            raise RuntimeError(f"{' '.join(cmd)} failed:\n{p.stdout}{p.stderr}")
        out = p.stdout + p.stderr
    shutil.rmtree(d, ignore_errors=True)
    row = parse_pan(out)
    if row["stored"] is None:
        raise RuntimeError(f"could not parse pan's report:\n{out}")
    row.update({
        "checker": "SPIN 6.5.2" if "6.5.2" in SPIN_VERSION else "SPIN",
        "model": "khomc steps (STEPS=1)" if steps else "Promela statements",
        "reduction": "POR" if reduce else "none (NOREDUCE)",
        "distinct": row["stored"], "seconds": row["pan_seconds"] or stages["pan"],
        "to_verdict": sum(stages.values()), "stages": stages, "cmd": " ".join(defs + gcc[3:-3]),
        "cpu": cpu["pan"],
    })
    if row["truncated"]:
        raise RuntimeError(f"pan's depth limit -m{PAN_DEPTH} was too small for N={n} K={k}")
    return row


SPIN_VERSION = ""


def children_cpu() -> float:
    """User + system CPU seconds of the finished child processes so far."""
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


# -- khomc -----------------------------------------------------------------------------------

def run_khomc(n: int, k: int, por: bool = False) -> dict:
    from khomc.engines.search import Search
    from khomc.registry import build
    t0 = time.perf_counter()
    model = build("spinkho", "ok", {"N": n, "K": k})
    c0 = time.process_time()
    r = Search(model, "bfs", graph_limit=0, por=por).run()
    cpu = time.process_time() - c0
    total = time.perf_counter() - t0
    assert not r.verdict.name == "VIOLATED", f"khomc found a violation in the OK model: {r.verdict}"
    return {"checker": "khomc BFS", "model": "khomc steps",
            "reduction": "POR (sleep sets)" if por else "none",
            "distinct": r.distinct, "transitions": r.transitions, "seconds": r.seconds,
            "to_verdict": total, "memory_mb": (r.bytes_per_state or 0) * r.distinct / 2**20,
            "cpu": cpu,
            "verdict": str(r.verdict)}


def run_oracle(n: int, k: int) -> dict:
    import oracle
    t0 = time.perf_counter()
    c0 = time.process_time()
    distinct, transitions, crashed = oracle.explore(n, k, False)
    cpu = time.process_time() - c0
    s = time.perf_counter() - t0
    assert not crashed
    return {"checker": "tuple BFS (baseline)", "model": "khomc steps", "reduction": "none",
            "distinct": distinct, "transitions": transitions, "seconds": s, "to_verdict": s,
            "memory_mb": None, "cpu": cpu}


def khomc_first_bfs(n: int, k: int) -> dict:
    from khomc.engines.search import Search
    from khomc.registry import build
    t0 = time.perf_counter()
    r = Search(build("spinkho", "bug", {"N": n, "K": k}), "bfs", graph_limit=0,
               stop_at_first=True).run()
    total = time.perf_counter() - t0
    ok = r.property("assertions").verdict.name == "VIOLATED"
    trace = r.property("assertions").trace
    steps = len(trace.steps) if trace is not None and hasattr(trace, "steps") else r.depth
    return {"checker": "khomc BFS --first", "where": "in process (build + search)",
            "first": total, "total": total, "states": r.distinct, "length": steps, "found": ok}


def khomc_first_cli(n: int, k: int, workdir: Path) -> dict:
    cmd = [sys.executable, "-m", "khomc.cli", "check", "spinkho", "bug", "-D", f"N={n}",
           "-D", f"K={k}", "--first", "--no-progress", "--trace-dir", str(workdir / "traces")]
    t0 = time.perf_counter()
    p = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    total = time.perf_counter() - t0
    found = p.returncode != 0 and "VIOLATED" in (p.stdout + p.stderr).upper()
    return {"checker": "khomc check --first", "where": "fresh process (python start-up + import)",
            "first": total, "total": total, "states": None, "length": None, "found": found}


def khomc_first_stateful(n: int, k: int) -> dict:
    from khomc.engines.stateful import Stateful
    from khomc.registry import build
    t0 = time.perf_counter()
    model = build("spinkho", "bug", {"N": n, "K": k})
    built = time.perf_counter() - t0
    r = Stateful(model, examples=200, steps=60, seed=1).run()
    total = time.perf_counter() - t0
    first = None
    length = None
    for note in r.notes:
        m = re.search(r"first counterexample after ([\d.]+) s, (\d+) steps", note)
        if m:
            first = built + float(m.group(1))
            length = int(m.group(2))
    return {"checker": "khomc stateful", "where": "in process, seed 1 (200 x 60 steps)",
            "first": first, "total": total, "states": None, "length": length,
            "found": str(r.verdict).upper().endswith("VIOLATED")}


def spin_first(n: int, k: int, steps: bool, workdir: Path) -> dict:
    r = run_spin(n, k, True, steps, True, None, workdir)
    st = r["stages"]
    return {"checker": f"SPIN pan ({'khomc steps' if steps else 'statements'})",
            "where": f"spin -a {st['spin -a']:.2f} + gcc {st['gcc']:.2f} + pan {st['pan']:.2f} s",
            "first": r["to_verdict"], "total": r["to_verdict"], "states": r["stored"],
            "length": r["violation_depth"], "found": r["errors"] > 0}


# -- output ----------------------------------------------------------------------------------

def fmt(x, spec=",") -> str:
    if x is None:
        return "-"
    return format(x, spec)


def print_table(n: int, k: int, rows: list[dict]) -> None:
    print(f"\n## N={n} K={k}: exhaustive search of the OK model (verdict: no violation)\n")
    head = ("| checker | granularity | reduction | distinct states | transitions | search s "
            "| search CPU s | to verdict s | states/s | states/CPU s | memory MB |")
    print(head)
    print("|" + "---|" * 11)
    for r in rows:
        rate = r["distinct"] / r["seconds"] if r["seconds"] else None
        cpu_rate = r["distinct"] / r["cpu"] if r.get("cpu") else None
        print(f"| {r['checker']} | {r['model']} | {r['reduction']} | {r['distinct']:,} | "
              f"{r['transitions']:,} | {r['seconds']:.2f} | {fmt(r.get('cpu'), '.2f')} | "
              f"{r['to_verdict']:.2f} | {fmt(rate, ',.0f')} | {fmt(cpu_rate, ',.0f')} | "
              f"{fmt(r.get('memory_mb'), ',.0f')} |")


def print_first(n: int, k: int, rows: list[dict]) -> None:
    print(f"\n## N={n} K={k}: first counterexample on the BUG variant\n")
    print("| checker | how timed | first counterexample s | run total s | states stored "
          "| trace length |")
    print("|" + "---|" * 6)
    for r in rows:
        first = f"{r['first']:.3f}" if r["first"] is not None else "none found"
        print(f"| {r['checker']} | {r['where']} | {first} | {r['total']:.3f} | "
              f"{fmt(r['states'])} | {fmt(r['length'])} |")


def size(text: str) -> tuple[int, int]:
    n, k = text.lower().split("x")
    return int(n), int(k)


def main(argv=None) -> int:
    global SPIN_VERSION
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=size, action="append",
                    help="NxK of the exhaustive comparison (repeatable; default 4x6)")
    ap.add_argument("--bug-size", type=size, default=(4, 6), help="NxK of the BUG variant runs")
    ap.add_argument("--spin-w", type=int, default=26,
                    help="pan's -w (log2 of hash-table slots) for the exhaustive runs")
    ap.add_argument("--no-install", action="store_true", help="do not apt-get install spin")
    ap.add_argument("--no-khomc", action="store_true", help="SPIN rows only")
    args = ap.parse_args(argv)
    sizes = args.size or [(4, 6)]

    why = ensure_spin(not args.no_install)
    have_spin = why is None
    if have_spin:
        SPIN_VERSION = spin_version()
    load = os.getloadavg()
    print(f"# khomc vs SPIN on the SPIN-comparable KHO model")
    print(f"# {platform.python_implementation()} {platform.python_version()}, "
          f"{platform.machine()}, {os.cpu_count()} cores, load average {load[0]:.2f} at start "
          f"(one core per checker; the others' work shares the machine)")
    print(f"# {SPIN_VERSION if have_spin else 'SPIN: skipped - ' + why}")
    failures = []
    with tempfile.TemporaryDirectory(prefix="khomc-spin-") as tmp:
        work = Path(tmp)
        for n, k in sizes:
            rows = []
            if have_spin:
                for steps in (False, True):
                    for reduce in (True, False):
                        rows.append(run_spin(n, k, False, steps, reduce, args.spin_w, work))
                        if rows[-1]["errors"]:
                            failures.append(f"SPIN reported errors on the OK model: {rows[-1]}")
            if not args.no_khomc:
                rows.append(run_khomc(n, k))
                rows.append(run_khomc(n, k, por=True))
                rows.append(run_oracle(n, k))
            print_table(n, k, rows)
            by = {(r["checker"].split()[0], r["model"], r["reduction"]): r for r in rows}
            khomc = by.get(("khomc", "khomc steps", "none"))
            spin_same = by.get((rows[0]["checker"].split()[0] if have_spin else "",
                                "khomc steps (STEPS=1)", "none (NOREDUCE)"))
            if khomc and spin_same:
                same = (khomc["distinct"] == spin_same["stored"]
                        and khomc["transitions"] == spin_same["transitions"] - 1)
                print(f"\nSPIN (khomc steps, NOREDUCE) vs khomc: distinct "
                      f"{spin_same['stored']:,} vs {khomc['distinct']:,}; transitions "
                      f"{spin_same['transitions']:,} - 1 (pan counts the initial state as a "
                      f"transition) vs {khomc['transitions']:,}: "
                      f"{'EQUAL' if same else 'DIFFERENT'}")
                if not same:
                    failures.append(f"N={n} K={k}: SPIN and khomc counts differ")
                spin_por = by.get((spin_same["checker"].split()[0], "Promela statements", "POR"))
                spin_por_steps = by.get((spin_same["checker"].split()[0],
                                         "khomc steps (STEPS=1)", "POR"))
                print(f"khomc {khomc['distinct'] / khomc['seconds']:,.0f} states/s on one core "
                      f"({khomc['distinct'] / khomc['cpu']:,.0f} per CPU second; "
                      f"target: >= 211,000, TLC 2.15 on two workers); "
                      f"SPIN's POR stores {spin_por['stored']:,} at statement granularity and "
                      f"{spin_por_steps['stored']:,} at khomc's (khomc, no reduction: "
                      f"{khomc['distinct']:,})")
                kpor = by.get(("khomc", "khomc steps", "POR (sleep sets)"))
                if kpor:
                    print(f"khomc --por: {kpor['distinct']:,} states (every state: sleep sets "
                          f"prune transitions), {kpor['transitions']:,} transitions against "
                          f"{khomc['transitions']:,} unreduced and SPIN POR's "
                          f"{spin_por_steps['transitions']:,} at the same granularity")
                    if kpor["distinct"] != khomc["distinct"]:
                        failures.append("khomc --por visited a different number of states")
            elif khomc:
                print(f"\nkhomc {khomc['distinct'] / khomc['seconds']:,.0f} states/s on one core")

        n, k = args.bug_size
        first = []
        if have_spin:
            first.append(spin_first(n, k, False, work))
            first.append(spin_first(n, k, True, work))
        if not args.no_khomc:
            first.append(khomc_first_bfs(n, k))
            first.append(khomc_first_cli(n, k, work))
            first.append(khomc_first_stateful(n, k))
        print_first(n, k, first)
        for r in first:
            if not r["found"]:
                failures.append(f"{r['checker']} found no counterexample on the BUG variant")
    load = os.getloadavg()
    print(f"\n# load average {load[0]:.2f} at the end")
    for f in failures:
        print(f"FAILED: {f}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
