"""Bad input, all of it: every case is one line on stderr and exit 2 (never 0, never a
traceback), before any search runs.

Table-driven: scenario parameters outside their declared types and ranges, unwritable output
paths, 64+ corrupt or mismatched trace files generated from a real trace, corrupt and crafted
checkpoints (a pickle that would run code is refused unread).
"""

from __future__ import annotations

import io
import json
import os
import pickle
import random
import sys
from pathlib import Path

import pytest

from khomc import registry
from khomc.cli import main
from khomc.runtime.spec import DEFAULT_INT_CAP, Param, Scenario


def khomc(*args):
    out, err = io.StringIO(), io.StringIO()
    old = sys.stderr
    sys.stderr = err
    try:
        code = main([str(a) for a in args], out=out)
    finally:
        sys.stderr = old
    return code, out.getvalue(), err.getvalue()


def one_line_exit_2(code, err, says=""):
    assert code == 2, err
    assert "Traceback" not in err
    assert len(err.strip().splitlines()) == 1, err
    assert says in err, err


# -- scenario parameters -------------------------------------------------------------------------

@pytest.mark.parametrize("spec,scenario,param,says", [
    ("counter", "racy", "N=0", "parameter N must be an integer in 1..8, got '0'"),
    ("counter", "racy", "N=-1", "parameter N must be an integer in 1..8"),
    ("counter", "racy", "N=100000", "parameter N must be an integer in 1..8"),
    ("counter", "racy", "N=99999999999999999999999", "not an integer"),
    ("counter", "racy", "N=abc", "not an integer: 'abc'"),
    ("counter", "racy", "N=1.5", "not an integer"),
    ("counter", "racy", "N=", "not an integer"),
    ("counter", "racy", "N=0x3", "not an integer"),
    ("counter", "racy", "M=3", "has no parameter 'M' (it has: N)"),
    ("counter", "abba", "N=2", "has no parameter 'N' (it has: none)"),
    ("spinkho", "ok", "K=0", "parameter K must be an integer in 1..8"),
    ("spinkho", "bug", "N=7", "parameter N must be an integer in 1..6"),
    ("v5", "fdbox-race", "pages=0", "parameter pages must be an integer in"),
    ("v5", "fdbox-race", "fdt_max=-5", "parameter fdt_max must be an integer in"),
    ("v5", "fdbox-race", "fail_allocs=-1", "parameter fail_allocs must be an integer in"),
    ("v5", "fdbox-race", "mutants=no-such-mutant", "unknown v5 mutants"),
    ("k7.1", "test-kho", "luo=maybe", "must be a boolean"),
    ("k7.1", "test-kho", "pages=100000", "parameter pages must be an integer in"),
    ("k6.16", "test-kho", "nr_folios=0", "parameter nr_folios must be an integer in"),
])
def test_bad_parameters_are_refused(tmp_path, spec, scenario, param, says):
    code, out, err = khomc("check", spec, scenario, "-D", param, "--trace-dir", tmp_path)
    one_line_exit_2(code, err, says)
    assert out == ""                      # refused before any search


def test_bad_parameter_of_a_whole_spec_check_is_refused_before_any_search(tmp_path):
    code, out, err = khomc("check", "counter", "-D", "N=0", "--trace-dir", tmp_path)
    one_line_exit_2(code, err, "'racy': parameter N")
    assert out == ""


def test_every_scenario_refuses_zero_negative_and_huge_ints():
    """The default rule or a declaration covers every integer parameter of every scenario."""
    checked = 0
    for spec in registry.SPECS:
        for sc in registry.scenarios(spec):
            for name, default in sc.params.items():
                if isinstance(default, bool) or not isinstance(default, int):
                    continue
                p = sc.param(name)
                assert p.lo <= default <= p.hi
                for bad in (-1, 100000, p.hi + 1, p.lo - 1):
                    with pytest.raises(registry.UnknownName, match=f"parameter {name} must"):
                        registry.check_params(spec, sc.name, {name: str(bad)})
                checked += 1
    assert checked > 100


def test_every_kho_scenario_declares_every_parameter():
    for spec in registry.SPECS:
        for sc in registry.scenarios(spec):
            assert set(sc.ranges) == set(sc.params), (spec, sc.name)


def test_default_rule_and_declarations():
    sc = Scenario("x", lambda N=2, fail=0, flag=True, mut="": None,
                  {"N": 2, "fail": 0, "flag": True, "mut": ""})
    assert sc.param("N") == Param(int, 1, DEFAULT_INT_CAP)
    assert sc.param("fail") == Param(int, 0, DEFAULT_INT_CAP)
    assert sc.check_params({"N": "16", "fail": "0", "flag": "off"})["flag"] is False
    with pytest.raises(ValueError, match="must be an integer in 1..16"):
        sc.check_params({"N": "17"})
    with pytest.raises(ValueError, match="must be a boolean"):
        sc.check_params({"flag": "2"})
    with pytest.raises(ValueError, match="not an integer"):
        sc.check_params({"N": True})          # a JSON true is not an integer
    with pytest.raises(TypeError, match="outside its declared range"):
        Scenario("y", lambda N=9: None, {"N": 9}, ranges={"N": Param(int, 1, 8)})
    with pytest.raises(TypeError, match="unknown parameters"):
        Scenario("z", lambda: None, {}, ranges={"N": Param(int, 1, 8)})


# -- output paths --------------------------------------------------------------------------------

def _paths(tmp_path):
    afile = tmp_path / "a-file"
    afile.write_text("x")
    return afile


@pytest.mark.parametrize("make_args,says", [
    (lambda f, d: ["check", "counter", "racy", "--trace-dir", f], "exists and is not a directory"),
    (lambda f, d: ["check", "counter", "racy", "--trace-dir", f / "sub"], "is not a directory"),
    (lambda f, d: ["check", "counter", "racy", "--trace-dir", "/proc/khomc-traces"],
     "cannot write in /proc"),
    (lambda f, d: ["check", "counter", "racy", "--checkpoint", d, "--trace-dir", d],
     "--checkpoint"),
    (lambda f, d: ["check", "counter", "racy", "--checkpoint", f / "x.ckpt", "--trace-dir", d],
     "is not a directory"),
    (lambda f, d: ["check", "counter", "racy", "--checkpoint", d / "no" / "x.ckpt",
                   "--trace-dir", d], "does not exist"),
    (lambda f, d: ["check", "counter", "racy", "--resume", d / "none.ckpt", "--trace-dir", d],
     "no such file"),
    (lambda f, d: ["graph", "counter", "racy", "--dot", d], "--dot"),
    (lambda f, d: ["graph", "counter", "racy", "--dot", f / "g.dot"], "is not a directory"),
    (lambda f, d: ["graph", "counter", "racy", "--graphml", "/proc/g.graphml"],
     "cannot write in /proc"),
    (lambda f, d: ["graph", "counter", "racy", "--dot", d / "g.dot", "--export-limit", "3"],
     "the state graph has 12 states, more than the export limit 3"),
    (lambda f, d: ["graph", "counter", "racy", "-D", "N=0"], "parameter N must be"),
    (lambda f, d: ["review", "--out", f], "--out"),
    (lambda f, d: ["review", "--out", f / "sub"], "is not a directory"),
])
def test_unwritable_outputs_are_refused_before_the_search(tmp_path, make_args, says):
    afile = _paths(tmp_path)
    code, out, err = khomc(*make_args(afile, tmp_path))
    one_line_exit_2(code, err, says)
    assert "VIOLATED" not in out and "HOLDS" not in out


# -- trace files ---------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def good_trace(tmp_path_factory):
    d = tmp_path_factory.mktemp("traces")
    code, _, _ = khomc("check", "counter", "racy", "--trace-dir", d, "--no-progress")
    assert code == 1
    path = d / "counter-racy-no-lost-update.json"
    return json.loads(path.read_text())


def _nest(depth):
    v = 0
    for _ in range(depth):
        v = [v]
    return v


def _edit(fn):
    def apply(d):
        d = json.loads(json.dumps(d))
        fn(d)
        return json.dumps(d).encode()
    return apply


def _set(path, value):
    def fn(d):
        *head, last = path
        for k in head:
            d = d[k]
        d[last] = value
    return _edit(fn)


def _drop(key):
    return _edit(lambda d: d.pop(key))


def _text(fn):
    return lambda d: fn(json.dumps(d, indent=1)).encode("utf-8", "surrogatepass")


def _variants():
    """(name, make(good trace dict) -> bytes) for every corrupt or mismatched case."""
    v = []
    for seed in range(8):                      # random bytes
        rng = random.Random(seed)
        v.append((f"random-{seed}", lambda d, rng=rng: bytes(rng.randrange(256)
                                                            for _ in range(rng.randrange(1, 4000)))))
    for enc in ("utf-16", "utf-16-le", "utf-16-be", "utf-32"):
        v.append((f"encoding-{enc}", lambda d, enc=enc: json.dumps(d).encode(enc)))
    for frac in (0.0, 0.1, 0.25, 0.5, 0.75, 0.9, 0.99):
        v.append((f"truncated-{frac}",
                  lambda d, frac=frac: json.dumps(d).encode()[: int(len(json.dumps(d)) * frac)]))
    v += [
        ("whitespace", lambda d: b"  \n\t "),
        ("null", lambda d: b"null"),
        ("a-list", lambda d: b"[1, 2, 3]"),
        ("a-string", lambda d: b'"khomc-trace"'),
        ("nul-bytes", lambda d: b"\x00" * 100),
        ("huge-tid", _set(["steps", 0, "tid"], 10 ** 30)),
        ("huge-choice", _set(["steps", 0, "choices"], [10 ** 20])),
        ("huge-digits", _text(lambda t: t.replace('"tid": 0', '"tid": ' + "9" * 5000, 1))),
        ("huge-float", _text(lambda t: t.replace('"tid": 0', '"tid": 1e999', 1))),
        ("float-tid", _set(["steps", 0, "tid"], 0.5)),
        ("negative-tid", _set(["steps", 0, "tid"], -1)),
        ("negative-choice", _set(["steps", 0, "choices"], [-1])),
        ("bool-tid", _set(["steps", 0, "tid"], True)),
        ("deep-nesting-params", _set(["params", "N"], _nest(50))),
        ("deep-nesting-raw", lambda d: b"[" * 100000 + b"]" * 100000),
        ("deep-nesting-step", _set(["steps", 0, "changes"], {"count": _nest(40)})),
        ("infinity", _text(lambda t: t.replace('"tid": 0', '"tid": Infinity', 1))),
        ("minus-infinity", _text(lambda t: t.replace('"tid": 0', '"tid": -Infinity', 1))),
        ("nan", _text(lambda t: t.replace('"tid": 0', '"tid": NaN', 1))),
        ("nan-bound", _text(lambda t: t.replace('"bounds": {', '"bounds": {"x": NaN, ', 1))),
        ("lone-surrogate", _text(lambda t: t.replace('"task": "inc0"', '"task": "\udc80"', 1))),
        ("escaped-lone-surrogate", _set(["steps", 0, "task"], "\udc80")),
        ("escaped-surrogate-param", _set(["params", "\udc80"], 1)),
        ("version-0", _set(["version"], 0)),
        ("version-2", _set(["version"], 2)),
        ("version-string", _set(["version"], "1")),
        ("version-float", _set(["version"], 1.0)),
        ("version-null", _set(["version"], None)),
        ("version-missing", _drop("version")),
        ("format-wrong", _set(["format"], "khomc-checkpoint")),
        ("format-missing", _drop("format")),
        ("steps-missing", _drop("steps")),
        ("steps-not-list", _set(["steps"], {"0": 1})),
        ("step-not-object", _set(["steps", 0], [1, 2])),
        ("step-task-int", _set(["steps", 0, "task"], 7)),
        ("effects-string", _set(["steps", 0, "effects"], "read")),
        ("effect-no-label", _set(["steps", 0, "effects"], [{"obs": "0"}])),
        ("changes-list", _set(["steps", 0, "changes"], ["count"])),
        ("change-not-pair", _set(["steps", 0, "changes"], {"count": ["0"]})),
        ("params-list", _set(["params"], [["N", 2]])),
        ("params-float", _set(["params", "N"], 2.0)),
        ("kind-unknown", _set(["kind"], "eventually")),
        ("verdict-unknown", _set(["verdict"], "FIXED")),
        ("verdict-holds", _set(["verdict"], "HOLDS")),
        ("loop-start-out-of-range", _set(["loop_start"], 999)),
        ("loop-on-a-final-trace", _set(["loop_start"], 0)),
        # mismatched with the scenario it names
        ("mismatch-spec", _set(["spec"], "nosuch")),
        ("mismatch-spec-other", _set(["spec"], "spinkho")),
        ("mismatch-scenario", _set(["scenario"], "gone")),
        ("mismatch-param-unknown", _set(["params", "M"], 3)),
        ("mismatch-param-range", _set(["params", "N"], 0)),
        ("mismatch-param-huge", _set(["params", "N"], 100000)),
        ("mismatch-param-value", _set(["params", "N"], 3)),
        ("mismatch-tasks", _set(["tasks"], ["inc0", "incX"])),
        ("mismatch-initial", _set(["initial", "count"], "7")),
        ("mismatch-property", _set(["property"], "no-such-property")),
        ("mismatch-kind", _set(["kind"], "always")),
    ]
    return v


VARIANTS = _variants()


def test_at_least_64_variants():
    assert len(VARIANTS) >= 64


@pytest.mark.parametrize("name,make", VARIANTS, ids=[n for n, _ in VARIANTS])
def test_corrupt_or_mismatched_trace_exits_2(tmp_path, good_trace, name, make):
    path = tmp_path / "t.json"
    path.write_bytes(make(good_trace))
    code, out, err = khomc("replay", path, "--quiet")
    one_line_exit_2(code, err)
    assert str(path) in err


def test_the_unedited_trace_replays(tmp_path, good_trace):
    path = tmp_path / "t.json"
    path.write_text(json.dumps(good_trace))
    code, out, err = khomc("replay", path, "--quiet")
    assert code == 1 and "VIOLATED reproduced" in out, err


def test_oversized_trace_is_refused_unread(tmp_path, good_trace, monkeypatch):
    from khomc import trace
    monkeypatch.setattr(trace, "MAX_TRACE_BYTES", 4096)
    path = tmp_path / "big.json"
    d = dict(good_trace, message="x" * 5000)
    path.write_text(json.dumps(d))
    code, out, err = khomc("replay", path)
    one_line_exit_2(code, err, "larger than")


# -- checkpoints ---------------------------------------------------------------------------------

class _RunsCode:
    def __reduce__(self):
        return (os.system, (f"touch {os.environ.get('KHOMC_PWNED', '/tmp/khomc-pwned')}",))


@pytest.fixture
def good_checkpoint(tmp_path):
    ck = tmp_path / "good.ckpt"
    code, out, err = khomc("check", "spinkho", "ok", "--max-states", "500", "--checkpoint", ck,
                           "--trace-dir", tmp_path, "--no-progress")
    assert code == 3 and ck.exists(), err
    return ck


def _ck_variants():
    import hashlib
    import zlib

    def rewrap(payload_fn):
        def make(raw):
            head, body = raw.split(b"\n", 1)
            data = json.loads(zlib.decompress(body))
            payload_fn(data)
            body = zlib.compress(json.dumps(data).encode())
            return (f"khomc-checkpoint 2 sha256={hashlib.sha256(body).hexdigest()} "
                    f"{len(body)}\n").encode() + body
        return make

    def setk(k, v):
        return rewrap(lambda d: d.__setitem__(k, v))

    def raw_body(body):
        return lambda raw: (f"khomc-checkpoint 2 sha256={hashlib.sha256(body).hexdigest()} "
                            f"{len(body)}\n").encode() + body

    return [
        ("empty", lambda raw: b"", "not a khomc checkpoint"),
        ("pickle-that-runs-code", lambda raw: pickle.dumps(_RunsCode()), "pickles are not loaded"),
        ("pickle-v1-dict", lambda raw: pickle.dumps({"format": "khomc-checkpoint",
                                                     "version": 1}), "pickles are not loaded"),
        ("random-bytes", lambda raw: bytes(random.Random(1).randrange(256) for _ in range(999)),
         "not a khomc checkpoint"),
        ("truncated", lambda raw: raw[: len(raw) // 2], "truncated"),
        ("flipped-byte", lambda raw: raw[:-10] + bytes([raw[-10] ^ 1]) + raw[-9:],
         "checksum mismatch"),
        ("version-1", lambda raw: raw.replace(b"checkpoint 2 ", b"checkpoint 1 ", 1),
         "version '1' is not supported"),
        ("header-only", lambda raw: raw.split(b"\n", 1)[0], "truncated"),
        ("not-zlib", raw_body(b"plain text, no zlib"), "corrupt checkpoint"),
        ("zlib-not-json", raw_body(zlib.compress(b"{nope")), "corrupt checkpoint"),
        ("json-nan", raw_body(zlib.compress(b'{"elapsed": NaN}')), "corrupt checkpoint"),
        ("json-deep", raw_body(zlib.compress(b"[" * 100000 + b"]" * 100000)),
         "corrupt checkpoint"),
        ("json-list", raw_body(zlib.compress(b"[]")), "corrupt checkpoint"),
        ("bad-parent", setk("parent", {"n": 1, "q": "AAAAAAAAAAA="}), "corrupt checkpoint"),
        ("bad-array", setk("depth", {"n": 3, "q": "!!"}), "corrupt checkpoint"),
        ("frontier-out-of-range", setk("frontier", {"n": 1, "q": "/////////38="}),
         "corrupt checkpoint"),
        ("engine-dfs", setk("engine", "dfs"), "corrupt checkpoint"),
        ("param-out-of-range", rewrap(lambda d: d["params"].__setitem__("N", 0)),
         "parameter N must be"),
        ("unknown-spec", setk("spec", "nosuch"), "is a checkpoint of nosuch"),
        ("other-scenario", setk("scenario", "bug"), "is a checkpoint of spinkho bug"),
        ("tampered-steps", rewrap(lambda d: d.__setitem__("digest", "0" * 64)),
         "does not match this spec"),
    ]


CK_VARIANTS = _ck_variants()


@pytest.mark.parametrize("name,make,says", CK_VARIANTS, ids=[n for n, _, _ in CK_VARIANTS])
def test_corrupt_or_crafted_checkpoint_exits_2(tmp_path, good_checkpoint, monkeypatch, name,
                                               make, says):
    marker = tmp_path / "pwned"
    monkeypatch.setenv("KHOMC_PWNED", str(marker))
    bad = tmp_path / "bad.ckpt"
    bad.write_bytes(make(good_checkpoint.read_bytes()))
    code, out, err = khomc("check", "spinkho", "ok", "--resume", bad, "--trace-dir", tmp_path,
                           "--no-progress")
    one_line_exit_2(code, err, says)
    assert not marker.exists()           # nothing in the file ran


# -- worker jobs and --time-limit -------------------------------------------------------------------

@pytest.mark.parametrize("argv,says", [
    ([], "must be a JSON object"),
    (["{not json"], "Expecting property name"),
    (["[1]"], "must be a JSON object"),
    (['{"spec": "nosuch", "scenario": "x"}'], "unknown spec 'nosuch'"),
    (['{"spec": "counter", "scenario": "racy", "params": {"N": 0}}'], "parameter N must be"),
])
def test_a_bad_worker_job_is_one_line_and_exit_2(capsys, argv, says):
    from khomc.engines import worker
    assert worker.main(argv) == 2
    err = capsys.readouterr().err
    assert says in err and len(err.strip().splitlines()) == 1


def test_time_limit_counts_model_construction(tmp_path, monkeypatch):
    """A build that alone outlasts --time-limit is cut by it: UNKNOWN (exit 3), no hang."""
    import time
    import khomc.cli as cli
    real = registry.build

    def slow(*a, **kw):
        time.sleep(30)
        return real(*a, **kw)
    monkeypatch.setattr(registry, "build", slow)
    t0 = time.perf_counter()
    code, out, err = khomc("check", "counter", "racy", "--time-limit", "0.5", "--trace-dir",
                           tmp_path)
    assert time.perf_counter() - t0 < 10
    assert code == 3 and "building the model took longer than --time-limit 0.5 s" in out
    monkeypatch.setattr(registry, "build", real)
    model, spent = cli.timed_build("counter", "racy", {}, 5.0)
    assert model.scenario == "racy" and 0 <= spent < 5
