"""The khomc runtime: effects on an immutable world, tasks as replayable coroutines, models.

Model code imports from here (and from :mod:`khomc.kernel`); it never imports an engine.
"""

from .effects import (Effect, Var, atomic, choose, load, op, select, spawn, store, update,
                      Choose, Load, Op, Select, Spawn, Store, Update, set_slot)
from .spec import Model, Property, Scenario, View
from .step import EffectRecord, StepError, Stepper
from .tasks import NondeterministicSpec, SpecError, TaskSpec, TaskTable

__all__ = [
    "Effect", "Var", "atomic", "choose", "load", "op", "select", "spawn", "store", "update",
    "Choose", "Load", "Op", "Select", "Spawn", "Store", "Update", "set_slot",
    "Model", "Property", "Scenario", "View", "EffectRecord", "StepError", "Stepper",
    "NondeterministicSpec", "SpecError", "TaskSpec", "TaskTable",
]
