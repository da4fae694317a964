"""Parallel checking on trio: a swarm of diversified searches, and a matrix of checks.

Owns the coordinator side of :mod:`khomc.engines.worker`.  Worker processes each run one check
and stream JSON lines; a trio coordinator starts them, merges their progress onto one line,
enforces a deadline, and cancels the rest as soon as the answer is known:

* :func:`swarm` (``khomc check --workers N``): N diversified searches of one scenario - BFS, DFS
  in shuffled orders, the hypothesis stateful engine, PCT and random walks with different
  seeds (Holzmann, Joshi and Groce's swarm verification: speed through diversity).  The first
  counterexample wins; an exhaustive worker that finishes decides every property.
* :func:`matrix` / :func:`review_matrix` (``khomc review --workers N``): many scenario checks,
  N at a time, with start and progress callbacks for the review's progress display; with
  ``--ray`` or ``--cluster ADDRESS`` the checks are Ray tasks instead (khomc.engines.dist_ray).

Ctrl-C cancels the nursery: the workers get SIGTERM, report nothing more, and the coordinator
returns what had already finished (the review marks the rest UNKNOWN).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import trio

from .result import Bounds, CheckResult, Verdict

SWARM_PLAN = [
    {"engine": "bfs"},
    {"engine": "dfs", "shuffle": 1},
    {"engine": "stateful"},
    {"engine": "pct", "steps": 40},
    {"engine": "random", "steps": 40},
    {"engine": "dfs", "shuffle": 2},
    {"engine": "pct", "pct_depth": 2, "steps": 40},
    {"engine": "dfs", "shuffle": 3},
]


def swarm_jobs(spec: str, scenario: str, params: dict, workers: int, bounds: Bounds,
               trace_dir: str | None, seed: int = 0) -> list[dict]:
    jobs = []
    for i in range(workers):
        plan = dict(SWARM_PLAN[i % len(SWARM_PLAN)])
        if i >= len(SWARM_PLAN):
            plan.setdefault("shuffle", i)
        jobs.append({"spec": spec, "scenario": scenario, "params": params,
                     "bounds": bounds.as_dict(), "seed": seed + i, "trace_dir": trace_dir,
                     "tag": f"-w{i}", "first": plan["engine"] != "bfs", **plan})
    return jobs


class Worker:
    """One worker process and what it reported."""

    def __init__(self, index: int, job: dict):
        self.index = index
        self.job = job
        self.progress = (0, 0.0, 0, 0)
        self.result: CheckResult | None = None
        self.error: str | None = None

    @property
    def label(self) -> str:
        j = self.job
        extra = f" shuffle {j['shuffle']}" if j.get("shuffle") is not None else ""
        return f"#{self.index} {j.get('engine', 'bfs')}{extra}"

    async def run(self) -> None:
        cmd = [sys.executable, "-m", "khomc.engines.worker", json.dumps(self.job)]
        env = dict(os.environ, PYTHONHASHSEED=os.environ.get("PYTHONHASHSEED", "0"))
        proc = await trio.lowlevel.open_process(cmd, stdout=subprocess.PIPE,
                                                stderr=subprocess.PIPE, env=env)
        try:
            await self._read(proc)
            await proc.wait()
            if self.result is None:
                err = (await _drain(proc.stderr)).decode(errors="replace").strip()
                self.error = err.splitlines()[-1] if err else f"exit code {proc.returncode}"
        finally:
            if proc.returncode is None:
                proc.send_signal(signal.SIGTERM)
                with trio.CancelScope(shield=True):
                    with trio.move_on_after(5):
                        await proc.wait()
                    if proc.returncode is None:
                        proc.kill()
                        await proc.wait()

    async def _read(self, proc) -> None:
        buf = b""
        async for chunk in proc.stdout:
            buf += chunk
            *lines, buf = buf.split(b"\n")
            for line in lines:
                if line.strip():
                    self._message(json.loads(line))

    def _message(self, msg: dict) -> None:
        if "progress" in msg:
            self.progress = tuple(msg["progress"])
        elif "result" in msg:
            self.result = CheckResult.from_dict(msg["result"])


async def _drain(stream) -> bytes:
    out = b""
    async for chunk in stream:
        out += chunk
    return out


class _Ticker:
    """Merged progress of all workers on one stderr line."""

    def __init__(self, workers, enabled: bool):
        self.workers = workers
        self.enabled = enabled
        self.start = time.perf_counter()

    async def run(self) -> None:
        while True:
            await trio.sleep(1.0)
            if not self.enabled:
                continue
            done = sum(1 for w in self.workers if w.result or w.error)
            states = sum(w.progress[0] for w in self.workers)
            rate = sum(w.progress[1] for w in self.workers if not (w.result or w.error))
            sys.stderr.write(f"\rkhomc: {len(self.workers)} workers, {done} done, "
                             f"{states:,} states explored, {rate:,.0f} states/s, "
                             f"{time.perf_counter() - self.start:.0f} s\x1b[K")
            sys.stderr.flush()


def _decides(result: CheckResult) -> bool:
    if result.verdict is Verdict.VIOLATED:
        return True
    return result.exhaustive and result.engine in ("bfs", "dfs")


async def _swarm(jobs: list[dict], deadline: float | None, progress: bool) -> list[Worker]:
    workers = [Worker(i, job) for i, job in enumerate(jobs)]
    with trio.move_on_after(deadline if deadline else float("inf")):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(_Ticker(workers, progress).run)

            async def one(w: Worker):
                await w.run()
                if w.result is not None and _decides(w.result):
                    nursery.cancel_scope.cancel()
                elif all(x.result or x.error for x in workers):
                    nursery.cancel_scope.cancel()

            for w in workers:
                nursery.start_soon(one, w)
    if progress:
        sys.stderr.write("\n")
    return workers


def swarm(spec: str, scenario: str, params: dict, workers: int = 2, bounds: Bounds | None = None,
          deadline: float | None = None, trace_dir: str | None = None, seed: int = 0,
          progress: bool = False, ray: str | None = None) -> tuple[CheckResult | None, list[Worker]]:
    """Run a swarm; return (the deciding result or the best partial one, all workers).
    *ray*: the searches are Ray tasks instead of local processes, on a Ray started on this
    machine (``"local"``) or on the cluster at that address; the first deciding result
    cancels the others there too."""
    jobs = swarm_jobs(spec, scenario, params, workers, bounds or Bounds(), trace_dir, seed)
    done = _ray_swarm(jobs, ray) if ray else trio.run(_swarm, jobs, deadline, progress)
    finished = [w.result for w in done if w.result is not None]
    deciding = [r for r in finished if _decides(r)]
    chosen = deciding[0] if deciding else (finished[0] if finished else None)
    if chosen is not None:
        chosen.notes.append("swarm: " + "; ".join(
            f"{w.label}: {w.result.verdict if w.result else (w.error or 'cancelled')}"
            for w in done))
    return chosen, done


async def _matrix(jobs: list[dict], workers: int, on_done, on_start=None, on_tick=None,
                  state=None) -> list[Worker]:
    """Run the jobs, *workers* at a time.  SIGINT (Ctrl-C) cancels the nursery instead of
    raising KeyboardInterrupt through trio: running workers get SIGTERM, finished results are
    kept, and ``state["interrupted"]`` says so."""
    limiter = trio.CapacityLimiter(workers)
    ws = [Worker(i, job) for i, job in enumerate(jobs)]
    running: list[Worker] = []
    state = {} if state is None else state

    async def one(w: Worker):
        async with limiter:
            if on_start is not None:
                on_start(w)
            running.append(w)
            try:
                await w.run()
            finally:
                running.remove(w)
        on_done(w)

    async def ticker():
        while True:
            await trio.sleep(0.5)
            if on_tick is not None:
                on_tick(list(running))

    async with trio.open_nursery() as outer:
        async def sigint(cancel_scope):
            try:
                with trio.open_signal_receiver(signal.SIGINT) as signals:
                    async for _ in signals:
                        state["interrupted"] = True
                        cancel_scope.cancel()
                        return
            except (ValueError, RuntimeError):   # not the main thread: no signal handling
                await trio.sleep_forever()

        async with trio.open_nursery() as nursery:
            outer.start_soon(sigint, nursery.cancel_scope)
            nursery.start_soon(ticker)

            async def all_jobs():
                async with trio.open_nursery() as inner:
                    for w in ws:
                        inner.start_soon(one, w)
                nursery.cancel_scope.cancel()

            nursery.start_soon(all_jobs)
        outer.cancel_scope.cancel()
    return ws


def matrix(jobs: list[dict], workers: int = 2, on_done=lambda w: None) -> list[Worker]:
    """Run independent checks, *workers* at a time; results in job order."""
    return trio.run(_matrix, jobs, workers, on_done)


def review_matrix(jobs: list[dict], workers: int = 2, on_done=lambda w: None, on_start=None,
                  on_tick=None) -> tuple[list[Worker], bool]:
    """As :func:`matrix`, with start and progress callbacks (``on_tick(running workers)``
    twice a second); returns (workers, interrupted by Ctrl-C)."""
    if jobs and jobs[0].get("ray"):
        return _ray_matrix(jobs, workers, on_done, on_start)
    state: dict = {}
    ws = trio.run(_matrix, jobs, workers, on_done, on_start, on_tick, state)
    return ws, bool(state.get("interrupted"))


def _ray_swarm(jobs: list[dict], address: str) -> list[Worker]:
    """The swarm's searches as Ray tasks, all at once (khomc.engines.dist_ray.run_jobs); the
    first deciding one cancels the rest.  No deadline: a Ray task stops when cancelled."""
    from .dist_ray import run_jobs
    ws = [Worker(i, job) for i, job in enumerate(jobs)]
    out, interrupted = run_jobs(jobs, None if address == "local" else address, len(jobs),
                                stop=lambda d: _decides(CheckResult.from_dict(d)))
    for w, (result, error) in zip(ws, out):
        w.result = CheckResult.from_dict(result) if result is not None else None
        w.error = error or ("interrupted" if interrupted and result is None else None)
    return ws


def _ray_matrix(jobs: list[dict], workers: int, on_done, on_start) -> tuple[list[Worker], bool]:
    """The review matrix as Ray tasks (``khomc review --ray`` / ``--cluster ADDRESS``: the
    jobs carry ``"ray": "local"`` or the address); each task runs one check as a worker
    process would and returns its result (traces saved by the task, under the review's folder:
    on a cluster that folder must be shared)."""
    from .dist_ray import run_jobs
    ws = [Worker(i, job) for i, job in enumerate(jobs)]
    address = jobs[0]["ray"]

    def done(i, result, error):
        if result is not None:
            ws[i].result = CheckResult.from_dict(result)
        ws[i].error = error
        on_done(ws[i])

    _, interrupted = run_jobs(jobs, None if address == "local" else address, workers,
                              on_done=done,
                              on_start=(lambda i: on_start(ws[i])) if on_start else None)
    return ws, interrupted
