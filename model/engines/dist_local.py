"""The local transport of the partitioned BFS: one worker process per partition on this machine.

Owns the worker processes of :mod:`khomc.engines.distributed` when no Ray is asked for
(``khomc check --partitions N``).  Each worker is a fresh interpreter, ``python -m
khomc.engines.dist_local FD JOB`` (nothing of the coordinator's state is inherited, and the
caller's ``__main__`` is not re-imported as multiprocessing's spawn would), with
``PYTHONHASHSEED=0``; it builds the model itself and serves the
:class:`~khomc.engines.distributed.Partition` methods over a socket pair (pickled messages,
``multiprocessing.connection`` framing), one request at a time.  The coordinator routes the
successor batches (bytes, pickled once by their sender).

Workers ignore SIGINT: Ctrl-C reaches the coordinator, which stops them.  A worker that dies
(killed, out of memory) closes its pipe; the pending call raises
:class:`~khomc.engines.distributed.WorkerLost` and the transport is marked broken, so nothing
more is asked of the others.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import traceback
from multiprocessing.connection import Connection

from .distributed import Partition, WorkerLost


def _serve(conn, job, index: int, count: int) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        spec, scenario, params, record, max_depth = job
        part = Partition(spec, scenario, params, index, count, record, max_depth)
    except Exception as exc:  # noqa: BLE001 - reported to the coordinator
        conn.send(("error", type(exc).__name__, str(exc), traceback.format_exc()))
        return
    conn.send(("ok", None))
    while True:
        try:
            msg = conn.recv()
        except (EOFError, OSError):
            return
        if msg[0] == "quit":
            return
        method, args = msg
        try:
            conn.send(("ok", getattr(part, method)(*args)))
        except Exception as exc:  # noqa: BLE001 - reported to the coordinator
            conn.send(("error", type(exc).__name__, str(exc), traceback.format_exc()))


def raise_remote(kind: str, message: str, tb: str, where: str):
    """Re-raise a worker's exception: spec errors and bad input as themselves, else with the
    worker's traceback."""
    from .. import registry
    from ..runtime.tasks import NondeterministicSpec, SpecError
    known = {"SpecError": SpecError, "NondeterministicSpec": NondeterministicSpec,
             "ValueError": ValueError, "UnknownName": registry.UnknownName}
    if kind in known:
        raise known[kind](message)
    raise RuntimeError(f"{where} raised {kind}: {message}\n{tb}")


class LocalTransport:
    """Partitions in worker processes of this machine."""

    def __init__(self, job, count: int):
        self.count = count
        self.broken = False
        self.conns = []
        self.procs = []
        env = dict(os.environ, PYTHONHASHSEED="0")
        try:
            for i in range(count):
                mine, theirs = socket.socketpair()
                fd = theirs.fileno()
                proc = subprocess.Popen(
                    [sys.executable, "-m", "khomc.engines.dist_local", str(fd),
                     json.dumps([list(job), i, count])],
                    pass_fds=(fd,), env=env, stdin=subprocess.DEVNULL)
                theirs.close()
                self.conns.append(Connection(mine.detach()))
                self.procs.append(proc)
        except BaseException:
            self.close()
            raise
        try:
            self._gather(range(count))      # every worker built its model
        except BaseException:
            self.close()
            raise

    def pids(self) -> list[int]:
        return [p.pid for p in self.procs]

    def _gather(self, which) -> list:
        out = []
        for i in which:
            try:
                reply = self.conns[i].recv()
            except (EOFError, OSError):
                self.broken = True
                code = self.procs[i].poll()
                raise WorkerLost(f"partition {i} (pid {self.procs[i].pid}) died"
                                 + (f", exit code {code}" if code is not None else ""))
            except BaseException:
                self.broken = True
                raise
            if reply[0] == "error":
                self.broken = True
                raise_remote(reply[1], reply[2], reply[3], f"partition {i}")
            out.append(reply[1])
        return out

    def call(self, method: str, args_list) -> list:
        """Call *method* on every partition (arguments per partition); results in order."""
        if self.broken:
            raise WorkerLost("an earlier call failed: the partitions are stopped")
        for i, args in enumerate(args_list):
            try:
                self.conns[i].send((method, tuple(args)))
            except (BrokenPipeError, OSError):
                self.broken = True
                raise WorkerLost(f"partition {i} (pid {self.procs[i].pid}) died") from None
            except BaseException:
                self.broken = True
                raise
        return self._gather(range(len(args_list)))

    def exchange(self, depth: int, level_offset: int):
        """One BFS level: expand everywhere, route the batches, receive everywhere."""
        res = self.call("expand", [(depth, level_offset)] * self.count)
        stats = [r[0] for r in res]
        routed = [[res[p][1][q] for p in range(self.count)] for q in range(self.count)]
        del res
        infos = self.call("receive", [(level_offset, *routed[q]) for q in range(self.count)])
        return stats, infos

    def close(self) -> None:
        for conn in self.conns:
            try:
                if not self.broken:
                    conn.send(("quit",))
            except OSError:
                pass
        for proc in self.procs:
            try:
                proc.wait(timeout=2 if not self.broken else 0.1)
            except subprocess.TimeoutExpired:
                proc.terminate()
                try:
                    proc.wait(timeout=2)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
        for conn in self.conns:
            conn.close()
        self.conns = []
        self.procs = []


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    fd = int(argv[0])
    job, index, count = json.loads(argv[1])
    _serve(Connection(fd), tuple(job), index, count)
    return 0


if __name__ == "__main__":
    sys.exit(main())
