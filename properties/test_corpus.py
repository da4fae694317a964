"""Every trace in traces/corpus/ replays step by step and reproduces its recorded verdict."""

from pathlib import Path

import pytest

from khomc.registry import build
from khomc.trace import Trace, replay

CORPUS = Path(__file__).resolve().parents[1] / "traces" / "corpus"


@pytest.mark.parametrize("path", sorted(CORPUS.glob("*.json")), ids=lambda p: p.name)
def test_corpus_trace_replays(path):
    trace = Trace.load(path)
    result = replay(trace, build(trace.spec, trace.scenario, trace.params))
    assert result.divergence is None, result.message
    assert result.reproduced, result.message


def test_corpus_is_not_empty():
    assert len(list(CORPUS.glob("*.json"))) >= 4
