"""Eras as commit ledgers: an era is its base's kernel files plus an ordered list of commits.

Owns :class:`Delta` (one kernel commit: id, subject, Fixes:, the functions it replaces, written
as the commit leaves them) and :class:`Era` (a base - the era it follows, or the kernel files of
a base design - and its deltas in the order they were merged).  ``Era.namespace(upto)`` links
the era the way the kernel's files are linked: every function of the base files and of the
applied deltas is re-bound to one shared namespace, so a call by name (``__kho_preserve_order``
from ``kho_preserve_folio``) reaches the newest version of the callee - a delta replaces the
function it changes, and nothing inside a kernel function asks which era it is in.

``upto`` is how ``khomc bisect`` applies the deltas one at a time: ``namespace(0)`` is the base,
``namespace(len(deltas))`` the whole era.

Abstraction: values computed when a module is imported (module constants, functions made by
factories at import time) keep the globals of the module that made them; only functions
*defined* in a base file or a delta module are re-bound.  A delta that changes such a value
lists it in ``Delta.values``.

>>> import types
>>> base = types.ModuleType("base")
>>> exec("def inner(): return 'old'\\ndef outer(): return inner()", base.__dict__)
>>> fix = Delta("0123456789ab", "base: make inner new")
>>> @fix.replaces
... def inner():
...     return "new"
>>> era = Era("demo", base=(base,), deltas=(fix,))
>>> era.namespace(0).outer(), era.namespace().outer()
('old', 'new')
"""

from __future__ import annotations

import importlib
import types
from dataclasses import dataclass, field


@dataclass(eq=False)
class Delta:
    """One kernel commit as it changes the model.

    *commit* is the 12-digit id (or a patch mail's Message-ID for the eras before the merge),
    *subject* its subject line, *fixes* the id its Fixes: tag names.  ``functions`` maps each
    kernel function the commit replaces to its new version (registered with
    :meth:`replaces`); ``values`` maps constants or tables it changes.
    """

    commit: str
    subject: str
    fixes: str | None = None
    note: str = ""
    functions: dict = field(default_factory=dict)
    values: dict = field(default_factory=dict)

    def replaces(self, fn=None, *, name: str | None = None):
        """Decorator: *fn* is the kernel function ``name`` (default: its own name) as of this
        commit."""
        def register(f):
            key = name or f.__name__
            if key in self.functions:
                raise ValueError(f"delta {self.commit}: {key} registered twice")
            self.functions[key] = f
            return f
        return register(fn) if fn is not None else register

    def sets(self, **values) -> "Delta":
        self.values.update(values)
        return self

    @property
    def changes(self) -> tuple[str, ...]:
        return tuple(self.functions) + tuple(self.values)

    def line(self) -> str:
        fixes = f" (Fixes: {self.fixes})" if self.fixes else ""
        return f"{self.commit} {self.subject}{fixes}: {', '.join(self.changes) or '-'}"


def _rebind(fn, namespace: dict, name: str):
    """*fn* linked into *namespace* under its kernel *name*: a delta's version may be written
    with a commit suffix (two commits changing one function in one file), but its code object
    carries the kernel's name, so traces, coverage and replay across eras see the C name."""
    code = fn.__code__
    if code.co_name != name:
        code = code.replace(co_name=name, co_qualname=name)
    new = types.FunctionType(code, namespace, name, fn.__defaults__, fn.__closure__)
    new.__kwdefaults__ = fn.__kwdefaults__
    new.__doc__ = fn.__doc__
    new.__qualname__ = name if code is not fn.__code__ else fn.__qualname__
    new.__module__ = fn.__module__      # the file it mirrors (coverage, traces name it)
    new.__dict__.update(fn.__dict__)
    return new


def _defined_in(module) -> dict:
    return {k: v for k, v in vars(module).items()
            if isinstance(v, types.FunctionType) and v.__module__ == module.__name__}


@dataclass(eq=False)
class Era:
    """A KHO era: *base* is the era it follows or a tuple of base modules (the kernel files of
    a design, linked into one namespace); *deltas* the commits applied on top, in order."""

    name: str
    base: "Era | tuple"
    deltas: tuple = ()
    doc: str = ""
    _cache: dict = field(default_factory=dict, repr=False)

    @property
    def previous(self) -> "Era | None":
        return self.base if isinstance(self.base, Era) else None

    def ledger(self) -> tuple[Delta, ...]:
        """Every delta from the root base to this era, oldest first."""
        return (self.previous.ledger() if self.previous else ()) + tuple(self.deltas)

    def namespace(self, upto: int | None = None) -> "Kernel":
        """The linked kernel of this era with only the first *upto* of its own deltas."""
        upto = len(self.deltas) if upto is None else upto
        if not 0 <= upto <= len(self.deltas):
            raise ValueError(f"era {self.name}: {upto} deltas asked, it has {len(self.deltas)}")
        if upto not in self._cache:
            self._cache[upto] = self._link(upto)
        return self._cache[upto]

    def _link(self, upto: int) -> "Kernel":
        ns: dict = {"__name__": f"khomc.era.{self.name}"}
        if self.previous:
            linked = self.previous.namespace()._globals
            for key, value in linked.items():
                ns.setdefault(key, value)
            functions = {k: v for k, v in ns.items() if isinstance(v, types.FunctionType)
                         and v.__globals__ is linked}
        else:
            functions = {}
            for module in self.base:
                for key, value in vars(module).items():
                    if key.startswith("__") and key.endswith("__"):
                        continue
                    ns.setdefault(key, value)
                for key, fn in _defined_in(module).items():
                    if key in functions and functions[key] is not fn:
                        raise ValueError(f"era {self.name}: {key} defined in two base files")
                    functions[key] = fn
        for delta in self.deltas[:upto]:
            for module_name in sorted({f.__module__ for f in delta.functions.values()}):
                module = importlib.import_module(module_name)
                for key, value in vars(module).items():
                    if not (key.startswith("__") and key.endswith("__")):
                        ns.setdefault(key, value)
                for key, fn in _defined_in(module).items():
                    functions.setdefault(key, fn)      # a helper the commit adds
            functions.update(delta.functions)
            ns.update(delta.values)
        for key, fn in functions.items():
            ns[key] = _rebind(fn, ns, key)
        ns["ERA"], ns["APPLIED"] = self, tuple(self.deltas[:upto])
        kernel = Kernel(**ns)
        object.__setattr__(kernel, "_globals", ns)     # what the linked functions see
        return kernel


class Kernel(types.SimpleNamespace):
    """One linked era: its functions and constants as attributes, plus ``ERA`` and ``APPLIED``
    (the deltas in effect).  Hashable and equal by (era, number of deltas), so it can be a task
    or notifier argument and hashes alike in every process."""

    def __hash__(self):
        return hash((self.ERA.name, len(self.APPLIED)))

    def __eq__(self, other):
        return self is other or (isinstance(other, Kernel) and self.ERA is other.ERA
                                 and self.APPLIED == other.APPLIED)

    def __repr__(self):
        extra = f" (first {len(self.APPLIED)} of {len(self.ERA.deltas)} deltas)" \
            if len(self.APPLIED) != len(self.ERA.deltas) else ""
        return f"<kernel {self.ERA.name}{extra}>"
