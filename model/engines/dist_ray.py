"""The Ray transport of the partitioned BFS: one Ray actor per partition, local or on a cluster.

Owns the Ray side of :mod:`khomc.engines.distributed` (``khomc check --ray`` starts a Ray on
this machine's cores, ``--cluster ADDRESS`` joins a running cluster, as ``ray start --head`` /
``ray start --address ...`` set it up) and the Ray form of the review matrix
(:func:`run_jobs`).  ``pip install 'khomc[ray]'`` brings Ray; nothing here is imported
without it.

Each partition is an actor of :class:`~khomc.engines.distributed.Partition` with
``max_restarts=0`` and a share of one CPU (the cluster's CPUs divided by the partitions, at
most one each), spread over the nodes.  A level's successor batches go from actor to actor
through Ray's object store: ``expand`` returns one object per destination (``num_returns``)
and the driver hands the references, not the bytes, to each owner's ``receive``.  Workers run
with ``PYTHONHASHSEED=0`` (the runtime environment's variables); nothing depends on it, as
ownership uses a stable digest, but it keeps every actor's iteration orders the same.

A lost actor (a killed process, a node that left) surfaces as Ray's ``RayActorError``, turned
into :class:`~khomc.engines.distributed.WorkerLost`: the search ends UNKNOWN with what was
reached.  Ctrl-C, and every normal end, kills the actors; a Ray started here is shut down.
"""

from __future__ import annotations

import os

from .distributed import Partition, WorkerLost

ENV = {"env_vars": {"PYTHONHASHSEED": "0"}}


class RayUnavailable(ValueError):
    """Ray is not installed, or the cluster cannot be started or joined (one line)."""


def _ray():
    try:
        import ray
    except ImportError:
        raise RayUnavailable("Ray is not installed: pip install 'khomc[ray]'") from None
    return ray


def connect(address: str | None, num_cpus: int | None = None) -> bool:
    """Initialise Ray: join the cluster at *address*, or start a local Ray (this machine's
    cores) when it is None.  Returns whether this call started it (and so must shut it down)."""
    ray = _ray()
    if ray.is_initialized():
        return False
    kw = dict(runtime_env=ENV, include_dashboard=False, logging_level="ERROR",
              log_to_driver=False, configure_logging=True)
    try:
        if address:
            ray.init(address=address, **kw)
        else:
            ray.init(num_cpus=num_cpus or os.cpu_count() or 1,
                     object_store_memory=512 << 20, **kw)
    except (ConnectionError, RuntimeError, ValueError) as exc:
        where = f"the Ray cluster at {address}" if address else "a local Ray"
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise RayUnavailable(f"cannot start or join {where}: {first}") from None
    return True


class RayTransport:
    """Partitions as Ray actors."""

    def __init__(self, job, count: int, address: str | None = None):
        ray = self.ray = _ray()
        self.count = count
        self.broken = False
        self.owns = connect(address)
        try:
            cpus = float(ray.cluster_resources().get("CPU", 1.0))
            share = min(1.0, cpus / count)
            actor = ray.remote(Partition).options(num_cpus=share, max_restarts=0,
                                                   scheduling_strategy="SPREAD")
            spec, scenario, params, record, max_depth = job
            self.actors = [actor.remote(spec, scenario, params, i, count, record, max_depth)
                           for i in range(count)]
            self._get([a.pid.remote() for a in self.actors])
        except BaseException:
            self.close()
            raise

    def pids(self) -> list[int]:
        return self._get([a.pid.remote() for a in self.actors])

    def nodes(self) -> list[str]:
        """The node (IP) of each actor."""
        return self._get([a.node.remote() for a in self.actors])

    def _get(self, refs):
        ray = self.ray
        try:
            return ray.get(refs)
        except ray.exceptions.RayActorError as exc:
            self.broken = True
            raise WorkerLost(f"a Ray actor died ({type(exc).__name__})") from None
        except ray.exceptions.RayTaskError as exc:
            self.broken = True
            cause = getattr(exc, "cause", None)
            if isinstance(cause, Exception):
                raise cause from None
            raise
        except BaseException:
            self.broken = True
            raise

    def call(self, method: str, args_list) -> list:
        if self.broken:
            raise WorkerLost("an earlier call failed: the partitions are stopped")
        return self._get([getattr(a, method).remote(*args)
                          for a, args in zip(self.actors, args_list)])

    def exchange(self, depth: int, level_offset: int):
        if self.broken:
            raise WorkerLost("an earlier call failed: the partitions are stopped")
        n = self.count
        outs = [a.expand_split.options(num_returns=n + 1).remote(depth, level_offset)
                for a in self.actors]
        stats_refs = [o[0] for o in outs]
        recv = [self.actors[q].receive.remote(level_offset, *[outs[p][1 + q] for p in range(n)])
                for q in range(n)]
        infos = self._get(recv)
        return self._get(stats_refs), infos

    def close(self) -> None:
        ray = self.ray
        for a in getattr(self, "actors", []):
            try:
                ray.kill(a, no_restart=True)
            except Exception:  # noqa: BLE001 - already gone
                pass
        self.actors = []
        if self.owns and ray.is_initialized():
            ray.shutdown()
            self.owns = False


# -- the review matrix and the swarm as Ray tasks ----------------------------------------------

def _job(job: dict) -> dict:
    """One check of the matrix, run in a Ray worker: the worker module's job runner."""
    from .worker import run_job, save_traces
    result = run_job(job)
    save_traces(result, job.get("trace_dir"), job.get("tag", ""))
    return result.as_dict()


def run_jobs(jobs: list[dict], address: str | None, workers: int, on_done=None,
             on_start=None, stop=None) -> tuple[list, bool]:
    """Run the checks *jobs* as Ray tasks, at most *workers* at a time; ``on_done(i, result
    dict or None, error or None)`` as each ends; once ``stop(result dict)`` is true for a
    finished job the others are cancelled (the swarm's first deciding result).  Returns (per
    job (result dict or None, error or None), interrupted by Ctrl-C)."""
    ray = _ray()
    owns = connect(address)
    task = ray.remote(_job).options(num_cpus=1, max_retries=0)
    out: list = [(None, None)] * len(jobs)
    pending: dict = {}
    nxt = 0
    interrupted = False
    try:
        while nxt < len(jobs) or pending:
            while nxt < len(jobs) and len(pending) < workers:
                if on_start is not None:
                    on_start(nxt)
                pending[task.remote(jobs[nxt])] = nxt
                nxt += 1
            ready, _ = ray.wait(list(pending), num_returns=1)
            for ref in ready:
                i = pending.pop(ref)
                try:
                    out[i] = (ray.get(ref), None)
                except ray.exceptions.RayError as exc:
                    cause = getattr(exc, "cause", None)
                    msg = str(cause) if cause is not None else type(exc).__name__
                    out[i] = (None, msg.strip().splitlines()[-1] if msg.strip() else msg)
                if on_done is not None:
                    on_done(i, *out[i])
                if stop is not None and out[i][0] is not None and stop(out[i][0]):
                    for other in pending:
                        ray.cancel(other, force=True)
                    pending.clear()
                    nxt = len(jobs)
                    break
    except KeyboardInterrupt:
        interrupted = True
        for ref in pending:
            ray.cancel(ref, force=True)
    finally:
        if owns and ray.is_initialized():
            ray.shutdown()
    return out, interrupted
