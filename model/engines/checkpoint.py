"""Checkpoints of a breadth-first search: write one periodically, resume after Ctrl-C or a crash.

Owns the checkpoint file.  It holds what the search cannot recompute cheaply: the visited table
(states or fingerprints), the discovery tree, the frontier, the recorded graph, the property
bookkeeping and the numbers so far - and, to give the local ids in those states their meaning
again, the origin of every task-local state (its task spec, or its parent and the observation
that led to it).  On resume the task table is rebuilt by replaying those origins in order,
which reproduces the same numbering; a mismatch means the spec changed and is refused.

Written atomically (to a temporary file, then renamed), so a crash while writing leaves the
previous checkpoint intact: at most one interval of work is lost.  Fingerprints (``--compact``)
hash strings with the interpreter's hash seed, so a compact checkpoint records the seed and is
only resumed under the same ``PYTHONHASHSEED`` (the ``khomc`` command fixes it).
"""

from __future__ import annotations

import os
import pickle
import sys
from pathlib import Path

from .. import __version__

FORMAT = "khomc-checkpoint"
VERSION = 1


class CheckpointError(Exception):
    """A checkpoint that cannot be resumed; one line saying why."""


def _hash_seed() -> str | None:
    return os.environ.get("PYTHONHASHSEED") if sys.flags.hash_randomization else "0"


FIELDS = ("ids", "states", "parent", "via_tid", "via_choices", "depth", "record_graph", "esrc",
          "edst", "etid", "transitions", "violations", "witness", "deadlocks", "truncated",
          "frontier", "elapsed")


def save(search, path: str | Path) -> Path:
    model = search.model
    data = {
        "format": FORMAT, "version": VERSION, "tool": __version__,
        "spec": model.spec, "scenario": model.scenario, "params": dict(model.params),
        "engine": search.engine, "bounds": search.bounds, "compact": search.compact,
        "symmetry": search.symmetry is not None, "graph_limit": search.graph_limit,
        "hash_seed": _hash_seed(),
        "origins": list(model.table.origin),
        "search": {f: getattr(search, f) for f in FIELDS},
    }
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as fh:
        pickle.dump(data, fh, protocol=pickle.HIGHEST_PROTOCOL)
    os.replace(tmp, path)
    return path


def load(path: str | Path) -> dict:
    path = Path(path)
    try:
        with open(path, "rb") as fh:
            data = pickle.load(fh)
    except OSError as exc:
        raise CheckpointError(f"{path}: cannot read ({exc.strerror or exc})") from None
    except Exception as exc:  # truncated or not a pickle at all
        raise CheckpointError(f"{path}: corrupt or truncated checkpoint ({type(exc).__name__})") \
            from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise CheckpointError(f"{path}: not a khomc checkpoint")
    if data.get("version") != VERSION:
        raise CheckpointError(f"{path}: checkpoint version {data.get('version')!r} is not "
                              f"supported (this khomc writes version {VERSION})")
    if data["compact"] and data["hash_seed"] != _hash_seed():
        raise CheckpointError(f"{path}: written with fingerprints under PYTHONHASHSEED="
                              f"{data['hash_seed']}; resume with that seed")
    return data


def rebuild_tasks(model, origins) -> None:
    """Replay every task-local state's origin so local ids mean what they meant."""
    from ..runtime.tasks import TaskSpec
    table = model.table
    for lid, origin in enumerate(origins):
        if lid < len(table.pending):
            continue                      # already created (the initial tasks)
        if isinstance(origin, TaskSpec):
            got = table.start(origin)
        else:
            parent, obs = origin
            got = table.advance(parent, obs)
        if got != lid:
            raise CheckpointError("the checkpoint does not match this spec: its task states "
                                  "replay differently (was the model code changed?)")
