"""One BFS split over hash partitions (khomc.engines.distributed) equals the single-process BFS.

Equal means: the same distinct-state and transition counts, the same depth, the same verdict for
every property (``terminates`` included: the owners record the graph) and the same
counterexample and witness traces step for step, each replayable.  Checked on every example
scenario and on small default KHO scenarios of several eras with worker processes (the local
transport), on a local Ray with two CPUs and on a two-node Ray cluster on loopback (two ``ray
start`` processes); a killed worker ends the search UNKNOWN, never with a wrong verdict, and
Ctrl-C stops every worker and keeps what was reached (exit 130).

The Ray tests are skipped when Ray is not installed (``pip install -e '.[ray]'``).  The slow
ones (``-m slow``) run every default scenario of every era and the 1.17 M-state toy.
"""

import io
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass

import pytest

from khomc import registry
from khomc.cli import main
from khomc.engines.distributed import DistributedSearch, stable_fingerprint
from khomc.engines.result import Bounds, Verdict
from khomc.engines.search import Search
from khomc.registry import build
from khomc.trace import replay

EXAMPLES = [(spec, s.name, {"N": 3, "K": 2} if spec == "spinkho" else {})
            for spec in ("counter", "spinkho") for s in registry.scenarios(spec)]
# small default KHO scenarios of four eras (the slow test runs all of them)
KHO = [("k6.16", "test-kho", {}), ("k6.16", "preserve-race", {}), ("v4", "dt-max-race", {}),
       ("v5", "autofinalize", {})]


def _steps(trace):
    return None if trace is None else [(s.task, s.tid, tuple(s.choices)) for s in trace.steps]


def assert_same(spec, scenario, params, got, want):
    assert (got.distinct, got.transitions, got.depth, got.stop) == \
        (want.distinct, want.transitions, want.depth, want.stop), (spec, scenario)
    assert [p.name for p in got.properties] == [p.name for p in want.properties]
    for g, w in zip(got.properties, want.properties):
        assert g.verdict is w.verdict, (spec, scenario, g.name, g.message, w.message)
        assert _steps(g.trace) == _steps(w.trace), (spec, scenario, g.name)
        assert g.message == w.message, (spec, scenario, g.name)
        if g.trace is not None:
            assert g.trace.loop_start == w.trace.loop_start
            assert replay(g.trace, build(spec, scenario, params)).ok, (spec, scenario, g.name)


def single(spec, scenario, params, **kw):
    return Search(build(spec, scenario, params), "bfs", **kw).run()


def split(spec, scenario, params, partitions, transport="local", **kw):
    return DistributedSearch(build(spec, scenario, params), partitions, transport, **kw).run()


def _children() -> set[int]:
    """Live partition workers started by this process (none may outlive a search)."""
    me, out = os.getpid(), set()
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as fh:
                ppid = int(fh.read().rsplit(")", 1)[1].split()[1])
            with open(f"/proc/{d}/cmdline", "rb") as fh:
                cmd = fh.read()
        except (OSError, ValueError, IndexError):
            continue
        if ppid == me and b"khomc.engines.dist_local" in cmd:
            out.add(int(d))
    return out


# -- local worker processes --------------------------------------------------------------------

@pytest.mark.parametrize("spec,scenario,params", EXAMPLES + KHO,
                         ids=[f"{a}-{b}" for a, b, _ in EXAMPLES + KHO])
def test_local_partitions_equal_single_bfs(spec, scenario, params):
    want = single(spec, scenario, params)
    got = split(spec, scenario, params, 3 if spec == "k6.16" else 2)
    assert_same(spec, scenario, params, got, want)
    assert "distributed: " in got.notes[0]


def test_one_partition_and_bounds():
    """One partition is the same search; a depth bound is exact (max-depth, the same
    truncated counts); a state budget stops at a level boundary and decides nothing new."""
    p = {"N": 2, "K": 3}
    assert_same("spinkho", "bug", p, split("spinkho", "bug", p, 1), single("spinkho", "bug", p))
    p = {"N": 3, "K": 3}
    b = Bounds(max_depth=9)
    assert_same("spinkho", "ok", p, split("spinkho", "ok", p, 2, bounds=b),
                single("spinkho", "ok", p, bounds=b))
    r = split("spinkho", "ok", p, 2, bounds=Bounds(max_states=500))
    assert r.stop == "max-states" and 500 <= r.distinct < 8704
    assert all(x.verdict is not Verdict.HOLDS or x.kind == "sometimes" for x in r.properties)


def test_owner_fingerprint_is_the_same_in_every_process():
    """The owner hash of a state (world slots, task keys) does not depend on the hash seed:
    computed in two interpreters with different PYTHONHASHSEED."""
    code = ("from khomc.registry import build\n"
            "from khomc.engines.distributed import Partition\n"
            "p = Partition('k6.16', 'preserve-race', {}, 0, 7)\n"
            "s = p.stepper.initial()\n"
            "out = [p.owner(s)] + [p.owner(n) for _, _, n in p.stepper.expand(s)]\n"
            "print(out)\n")
    outs = {subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                           env=dict(os.environ, PYTHONHASHSEED=seed), check=True).stdout
            for seed in ("1", "2", "random")}
    assert len(outs) == 1
    # equal values of different types (1 == True == 1.0) have equal fingerprints
    assert stable_fingerprint((1, "a")) == stable_fingerprint((True, "a")) == \
        stable_fingerprint((1.0, "a")) != stable_fingerprint((2, "a"))


@dataclass(frozen=True)
class _Rec:
    a: int
    b: str


def test_fingerprint_encodes_each_record_as_itself():
    """Named tuples, dataclasses and effects are encoded through a temporary tuple of their
    fields.  Issue 13: the encoder's memo was keyed by id() and kept only the encoding, so the
    next record's temporary, given the dead one's address by CPython's tuple free list, took
    the first record's encoding: ``(a, b)`` fingerprinted as ``(a, a)`` or not depending on
    the process's allocation history, two processes disagreed on a state's owner and both kept
    it (k6.18 fdbox-race: 252,347 or 252,350 distinct states with 2 partitions, 252,341
    without)."""
    from khomc.kernel.alloc import Obj
    from khomc.runtime.effects import Store, Var
    page = Obj("page", 1, 4096, True, 0, "kho_init", None, None, b"")
    folio = Obj("folio", 1, 4096, True, 1, "fdbox_save_fd", None, None, b"fdbox0:fd0")
    x = Var(3, "x")
    # tuples held here: every free list is below its cap, so a freed tuple's address is the
    # next one handed out (the condition under which the unpinned memo went wrong)
    spare = [tuple(range(n)) for n in range(1, 20) for _ in range(3)]
    for a, b, b2 in ((page, folio, folio._replace()), (Store(x, 1), Store(x, 2), Store(x, 2)),
                     (_Rec(1, "p"), _Rec(2, "q"), _Rec(2, "q"))):
        ab, aa, bb = (stable_fingerprint(v) for v in ((a, b), (a, a), (b, b)))
        assert len({ab, aa, bb, stable_fingerprint((b, a))}) == 4, (a, b)
        assert stable_fingerprint((a, b2)) == ab                # by value: an equal copy
        assert stable_fingerprint(((a,), (b,))) != stable_fingerprint(((a,), (a,)))
    assert spare


def test_killed_worker_ends_unknown_never_holds():
    """SIGKILL one worker after level 5: the search stops with what the completed levels
    decided; every property the full search finds HOLDS is UNKNOWN here."""
    p = {"N": 3, "K": 3}
    want = single("spinkho", "ok", p)

    def kill(search, depth):
        if depth == 5:
            os.kill(search.transport.pids()[1], signal.SIGKILL)

    got = DistributedSearch(build("spinkho", "ok", p), 2, on_level=kill).run()
    assert got.stop == "worker-lost" and got.distinct < want.distinct
    for g, w in zip(got.properties, want.properties):
        if g.kind != "sometimes":
            assert g.verdict is Verdict.UNKNOWN, (g.name, g.verdict)
    assert any("lost" in n for n in got.notes)
    time.sleep(0.2)
    assert not _children()


def test_sigint_stops_the_workers_and_keeps_the_result():
    """Ctrl-C (SIGINT to this process) stops at the next round: result 'interrupted' with the
    levels reached, the witness already found kept with its trace, no worker left."""
    def interrupt(search, depth):
        if depth == 6:
            os.kill(os.getpid(), signal.SIGINT)

    p = {"N": 3, "K": 3}
    got = DistributedSearch(build("spinkho", "ok", p), 2, on_level=interrupt).run()
    assert got.stop == "interrupted" and 0 < got.distinct < 8704
    witness = got.property("kexec-reached")
    assert witness.verdict is Verdict.HOLDS and replay(witness.trace, build("spinkho", "ok", p)).ok
    assert all(x.verdict is Verdict.UNKNOWN for x in got.properties if x.kind != "sometimes")
    time.sleep(0.2)
    assert not _children()


def test_cli_partitions_and_ctrl_c_exit_130(tmp_path):
    out = io.StringIO()
    code = main(["check", "counter", "racy", "--partitions", "2", "--no-progress",
                 "--trace-dir", str(tmp_path)], out=out)
    assert code == 1 and "VIOLATED" in out.getvalue() and "2 hash partitions" in out.getvalue()
    assert main(["replay", str(tmp_path / "counter-racy-no-lost-update.json"), "--quiet"],
                out=io.StringIO()) == 1
    for bad in (["--compact"], ["--engine", "dfs"], ["--workers", "2"], ["--por"]):
        assert main(["check", "counter", "racy", "--partitions", "2", *bad],
                    out=io.StringIO()) == 2
    # Ctrl-C: the real command in a child process, SIGINT after 3 s of a 1.2 M-state search
    proc = subprocess.Popen([sys.executable, "-m", "khomc.cli", "check", "spinkho", "ok",
                             "-D", "N=4", "-D", "K=6", "--partitions", "2", "--no-progress",
                             "--trace-dir", str(tmp_path)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(4)
    proc.send_signal(signal.SIGINT)
    stdout, _ = proc.communicate(timeout=60)
    assert proc.returncode == 130, stdout
    assert "stopped: interrupted" in stdout and "UNKNOWN" in stdout


# -- Ray ---------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def local_ray():
    ray = pytest.importorskip("ray")
    from khomc.engines import dist_ray
    if ray.is_initialized():
        ray.shutdown()
    old = os.environ.get("RAY_AUTH_MODE")
    os.environ["RAY_AUTH_MODE"] = "disabled"       # no token written to ~/.ray
    dist_ray.connect(None, num_cpus=2)
    yield ray
    ray.shutdown()
    if old is None:
        os.environ.pop("RAY_AUTH_MODE", None)
    else:
        os.environ["RAY_AUTH_MODE"] = old


def test_ray_local_two_cpus_equal_single_bfs(local_ray):
    assert local_ray.cluster_resources().get("CPU") == 2
    for spec, scenario, params in [("counter", "spin", {}), ("k6.16", "preserve-race", {})]:
        want = single(spec, scenario, params)
        got = split(spec, scenario, params, 2, "ray")
        assert_same(spec, scenario, params, got, want)
        assert "Ray actors" in got.notes[0]


def test_ray_killed_actor_ends_unknown(local_ray):
    p = {"N": 3, "K": 3}

    def kill(search, depth):
        if depth == 5:
            os.kill(search.transport.pids()[0], signal.SIGKILL)

    got = DistributedSearch(build("spinkho", "ok", p), 2, "ray", on_level=kill).run()
    assert got.stop == "worker-lost"
    assert all(x.verdict is Verdict.UNKNOWN for x in got.properties if x.kind != "sometimes")


def test_review_matrix_as_ray_tasks(local_ray, tmp_path):
    """``khomc review --ray``: the matrix's checks run as Ray tasks, the same report."""
    out = io.StringIO()
    code = main(["review", "--spec", "counter", "--ray", "--workers", "2", "--no-progress",
                 "--out", str(tmp_path / "rev")], out=out)
    assert code == 0, out.getvalue()
    md = (tmp_path / "rev" / "REPORT.md").read_text()
    assert "| counter | racy | N=2 | bfs, exhaustive | 12 |" in md and \
        "VIOLATED: no-lost-update; HOLDS 4 of 5 |" in md


def test_swarm_as_ray_tasks(local_ray, tmp_path):
    """``khomc check --workers N --ray``: the swarm's searches are Ray tasks; the first
    deciding result (a counterexample, or the exhaustive BFS) answers and the rest are
    cancelled, as with local worker processes."""
    from khomc.engines.parallel import swarm
    bug, ws = swarm("spinkho", "bug", {"N": 3, "K": 2}, 3, trace_dir=str(tmp_path), ray="local")
    assert bug is not None and bug.verdict is Verdict.VIOLATED
    assert len(ws) == 3 and any(w.result is not None for w in ws)
    assert "swarm: " in bug.notes[-1]
    ok, _ = swarm("counter", "spin", {}, 2, ray="local")
    # whichever exhaustive search decides first answers: the BFS or the diversified DFS
    # (CI saw either, by timing)
    assert ok.engine in ("bfs", "dfs") and ok.exhaustive
    from khomc.engines.search import check
    want = check(build("counter", "spin", {}), ok.engine)
    assert [(x.name, x.verdict) for x in ok.properties] == \
        [(x.name, x.verdict) for x in want.properties]
    out = io.StringIO()
    code = main(["check", "spinkho", "bug", "-D", "N=3", "-D", "K=2", "--workers", "2", "--ray",
                 "--no-progress", "--trace-dir", str(tmp_path)], out=out)
    assert code == 1 and "VIOLATED" in out.getvalue()
    assert main(["check", "counter", "spin", "--workers", "2", "--ray", "--deadline", "5"],
                out=io.StringIO()) == 2


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# Ray rewrites a loopback node address to the machine's routable one; the cluster of the test
# stays on 127.0.0.1: `ray start` runs with the address lookups answering loopback (the driver,
# this process, likewise), and without token authentication (nothing but loopback listens).
_LOOPBACK = ("import ray._private.services as s\n"
             "import ray._private.ray_constants as c\n"
             "c.ENABLE_RAY_CLUSTER = True\n"
             "s.get_node_ip_address = lambda address=None: '127.0.0.1'\n"
             "s.node_ip_address_from_perspective = lambda address=None: '127.0.0.1'\n")


def _ray_pids(marks) -> set[int]:
    """The processes of one Ray cluster: those whose command line names its port or temp
    folder, and all their descendants (Ray's agents rename themselves ``ray::...``)."""
    cmds, parent = {}, {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/cmdline", "rb") as fh:
                cmds[int(d)] = fh.read()
            with open(f"/proc/{d}/stat") as fh:
                parent[int(d)] = int(fh.read().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
    out = {p for p, c in cmds.items() if b"ray" in c and any(m.encode() in c for m in marks)}
    grew = True
    while grew:
        more = {p for p, pp in parent.items() if pp in out and p not in out}
        out |= more
        grew = bool(more)
    return out


@pytest.fixture
def ray_cluster(monkeypatch):
    """Two Ray nodes on loopback, one CPU each: ``ray start --head`` and a second ``ray
    start --address``; the finalizer stops exactly the processes of this cluster (by pid)."""
    import tempfile
    ray = pytest.importorskip("ray")
    import ray._private.services as services
    if ray.is_initialized():
        ray.shutdown()
    port = _free_port()
    temp = tempfile.mkdtemp(prefix="/tmp/khr")     # short: Ray's socket paths are bounded
    env = dict(os.environ, RAY_USAGE_STATS_ENABLED="0", PYTHONHASHSEED="0",
               RAY_AUTH_MODE="disabled")
    monkeypatch.setenv("RAY_AUTH_MODE", "disabled")
    monkeypatch.setattr(services, "get_node_ip_address", lambda address=None: "127.0.0.1")
    monkeypatch.setattr(services, "node_ip_address_from_perspective",
                        lambda address=None: "127.0.0.1")
    cli = _LOOPBACK + "import sys\nfrom ray.scripts.scripts import cli\n" \
        "cli.main(args=sys.argv[1:], prog_name='ray')\n"
    common = ["--num-cpus=1", "--disable-usage-stats", "--node-ip-address=127.0.0.1"]
    try:
        for args in (["--head", f"--port={port}", "--include-dashboard=false",
                      f"--temp-dir={temp}"], [f"--address=127.0.0.1:{port}"]):
            subprocess.run([sys.executable, "-c", cli, "start", *args, *common], check=True,
                           env=env, capture_output=True, timeout=120)
        yield f"127.0.0.1:{port}"
    finally:
        if ray.is_initialized():
            ray.shutdown()
        marks = (temp, f"127.0.0.1:{port}", f"port={port}")
        pids = _ray_pids(marks)
        for sig in (signal.SIGTERM, signal.SIGKILL):
            for pid in pids:
                try:
                    os.kill(pid, sig)
                except ProcessLookupError:
                    pass
            deadline = time.time() + 5
            while time.time() < deadline and any(os.path.exists(f"/proc/{p}") for p in pids):
                time.sleep(0.2)
        import shutil
        shutil.rmtree(temp, ignore_errors=True)


def test_ray_two_node_cluster_equal_single_bfs(ray_cluster):
    import ray
    from khomc.engines.dist_ray import connect
    connect(ray_cluster)
    try:
        deadline = time.time() + 60
        while len([n for n in ray.nodes() if n["Alive"]]) < 2 and time.time() < deadline:
            time.sleep(0.5)
        assert len([n for n in ray.nodes() if n["Alive"]]) == 2
        for spec, scenario, params in [("k6.16", "preserve-race", {})]:
            want = single(spec, scenario, params)
            search = DistributedSearch(build(spec, scenario, params), 2, "ray",
                                       address=ray_cluster)
            nodes = []
            search.on_level = lambda s, d: nodes.append(s.transport.nodes()) if d == 1 else None
            got = search.run()
            assert_same(spec, scenario, params, got, want)
            assert len(set(nodes[0])) == 2          # one partition on each node
    finally:
        ray.shutdown()


# -- slow: every default KHO scenario, the 1.17 M-state toy -----------------------------------

def _default_kho():
    out = []
    for spec in registry.SPECS:
        if spec in ("counter", "spinkho"):
            continue
        for s in registry.scenarios(spec):
            if s.default:       # checked up to symmetry by the review: at two clients
                params = {"clients": 2} if s.symmetry else {}
                out.append(pytest.param(spec, s.name, params, id=f"{spec}-{s.name}"))
    return out


@pytest.mark.slow
@pytest.mark.parametrize("spec,scenario,params", _default_kho())
def test_local_partitions_equal_single_bfs_on_every_default_kho_scenario(spec, scenario, params):
    want = single(spec, scenario, params)
    got = split(spec, scenario, params, 2)
    assert_same(spec, scenario, params, got, want)


@pytest.mark.slow
def test_toy_n4_k6_two_partitions():
    p = {"N": 4, "K": 6}
    got = split("spinkho", "ok", p, 2, graph_limit=0)
    assert (got.distinct, got.verdict) == (1_169_287, Verdict.UNKNOWN)   # terminates: no graph
    assert all(x.verdict is Verdict.HOLDS for x in got.properties if x.kind != "termination")
