"""Property monitor: which of a model's state properties fail (or are reached) in one state.

Owns the evaluation of ``assertions``, ``always``, ``final`` and ``sometimes`` on a single
state, shared by every engine (exhaustive search, random and PCT runs, the hypothesis state
machine) so that they cannot disagree on what a violation is.
"""

from __future__ import annotations

from ..runtime.spec import ALWAYS, FINAL, SOMETIMES, Model
from ..runtime.tasks import SpecError


class Monitor:
    def __init__(self, model: Model):
        self.model = model
        self.view = model.view()
        self.crashed = model.table.crashed
        props = model.properties
        self.always = [p for p in props if p.kind == ALWAYS]
        self.final = [p for p in props if p.kind == FINAL]
        self.sometimes = [p for p in props if p.kind == SOMETIMES]

    def _eval(self, p) -> bool:
        try:
            return bool(p.fn(self.view))
        except SpecError:
            raise
        except Exception as exc:
            raise SpecError(f"property {p.name!r} raised {type(exc).__name__}: {exc}") from exc

    def failing(self, state, skip=()) -> list[str]:
        """Names of the state properties that fail in *state* (those in *skip* are not run)."""
        view = self.view
        view.world, view.locs = state
        out = []
        if "assertions" not in skip:
            crashed = self.crashed
            for lid in state[1]:
                if crashed[lid] is not None:
                    out.append("assertions")
                    break
        for p in self.always:
            if p.name not in skip and not self._eval(p):
                out.append(p.name)
        if self.final and view.all_done:
            for p in self.final:
                if p.name not in skip and not self._eval(p):
                    out.append(p.name)
        return out

    def reached(self, state, skip=()) -> list[str]:
        """Names of the ``sometimes`` properties that hold in *state*."""
        view = self.view
        view.world, view.locs = state
        return [p.name for p in self.sometimes if p.name not in skip and self._eval(p)]
