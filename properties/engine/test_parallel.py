"""The trio coordinator: swarms of diversified workers and the parallel review matrix."""

import io

from khomc.cli import main
from khomc.engines.parallel import matrix, swarm
from khomc.engines.result import Verdict
from khomc.trace import replay
from khomc.registry import build


def test_swarm_first_counterexample_cancels_the_others(tmp_path):
    result, workers = swarm("spinkho", "bug", {"N": 4, "K": 4}, workers=3,
                            trace_dir=str(tmp_path))
    assert result.verdict is Verdict.VIOLATED
    trace = result.property("assertions").trace
    assert replay(trace, build("spinkho", "bug", {"N": 4, "K": 4})).ok
    # the BFS worker of N=4 K=4 (2.5 M states) cannot have finished: it was cancelled
    assert any(w.result is None and w.job["engine"] == "bfs" for w in workers)
    assert "swarm:" in result.notes[-1]


def test_swarm_exhaustive_worker_decides_holds(tmp_path):
    result, _ = swarm("counter", "locked", {"N": 2}, workers=2, trace_dir=str(tmp_path))
    assert result.verdict is Verdict.HOLDS and result.exhaustive and result.distinct == 16


def test_swarm_deadline_gives_a_partial_answer(tmp_path):
    result, workers = swarm("spinkho", "ok", {"N": 5, "K": 6}, workers=2, deadline=3,
                            trace_dir=str(tmp_path))
    assert result is None or result.verdict is not Verdict.HOLDS
    assert all(w.result is None or not w.result.exhaustive for w in workers)


def test_matrix_runs_jobs_in_parallel_and_keeps_their_order(tmp_path):
    jobs = [{"spec": "counter", "scenario": s, "params": {}, "engine": "bfs", "bounds": {},
             "trace_dir": str(tmp_path)} for s in ("racy", "locked", "abba")]
    done = []
    ws = matrix(jobs, 2, lambda w: done.append(w.job["scenario"]))
    assert [w.result.scenario for w in ws] == ["racy", "locked", "abba"]
    assert [w.result.verdict for w in ws] == [Verdict.VIOLATED, Verdict.HOLDS, Verdict.VIOLATED]
    assert sorted(done) == ["abba", "locked", "racy"]


def test_check_with_workers_and_parallel_review(tmp_path):
    out = io.StringIO()
    code = main(["check", "counter", "racy", "--workers", "2", "--no-progress",
                 "--trace-dir", str(tmp_path)], out=out)
    assert code == 1 and "VIOLATED" in out.getvalue()
    out = io.StringIO()
    code = main(["review", "--spec", "counter", "--workers", "2", "--out",
                 str(tmp_path / "rev")], out=out)
    assert code == 0
    md = (tmp_path / "rev" / "REPORT.md").read_text()
    assert "| counter | racy | N=2 | bfs, exhaustive | 12 |" in md and \
        "VIOLATED: no-lost-update; HOLDS 4 of 5 |" in md
