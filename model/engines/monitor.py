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
        self.crashed_ids = model.table.crashed_ids
        self.done_ids = model.table.done_ids
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

    def _run(self, props, skip, want: bool) -> list[str]:
        """Names of *props* (not in *skip*) whose value is *want*; a property that raises is a
        SpecError naming it."""
        view = self.view
        out = []
        p = None
        try:
            for p in props:
                if p.name not in skip and bool(p.fn(view)) is want:
                    out.append(p.name)
        except SpecError:
            raise
        except Exception as exc:
            raise SpecError(f"property {p.name!r} raised {type(exc).__name__}: {exc}") from exc
        return out

    def failing(self, state, skip=()) -> list[str]:
        """Names of the state properties that fail in *state* (those in *skip* are not run)."""
        view = self.view
        view.world, view.locs = state
        locs = state[1]
        out = []
        if self.crashed_ids and "assertions" not in skip and not self.crashed_ids.isdisjoint(locs):
            out.append("assertions")
        if self.always:
            out += self._run(self.always, skip, False)
        if self.final and self.done_ids.issuperset(locs):
            out += self._run(self.final, skip, False)
        return out

    def reached(self, state, skip=()) -> list[str]:
        """Names of the ``sometimes`` properties that hold in *state*."""
        view = self.view
        view.world, view.locs = state
        return self._run(self.sometimes, skip, True)
