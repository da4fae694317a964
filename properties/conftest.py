"""Shared fixtures of the property suites."""

import pytest

from khomc.engines.search import check
from khomc.registry import build


@pytest.fixture
def run():
    """run(spec, scenario, **params) -> CheckResult of an exhaustive BFS."""
    def _run(spec, scenario, engine="bfs", bounds=None, **params):
        return check(build(spec, scenario, params), engine, bounds)
    return _run
