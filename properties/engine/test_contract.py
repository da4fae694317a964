"""The determinism contract, statically: model code imports no randomness, time, I/O or engine.

Model code (the specs: kernel primitives, KHO eras, drivers, examples) must be a pure function
of what its effects observe.  This test reads every spec module's AST and refuses imports of
modules that bring nondeterminism or I/O, imports of the engine side of khomc, and ``global``
statements.  The first test shows the scanner can fail.
"""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2] / "model"
SPEC_PACKAGES = ("kernel", "kho", "drivers", "scenarios", "promises", "examples")
FORBIDDEN = {
    "random", "secrets", "time", "datetime", "os", "sys", "io", "socket", "select", "threading",
    "multiprocessing", "subprocess", "asyncio", "pathlib", "tempfile", "uuid", "signal",
    "trio", "hypothesis", "z3", "networkx",
}
FORBIDDEN_KHOMC = ("engines", "report", "cli", "trace", "smt", "registry")


def violations(source: str, filename: str = "<spec>", package: str = "khomc.kernel") -> list[str]:
    problems = []
    for node in ast.walk(ast.parse(source, filename)):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            mod = node.module or ""
            if node.level:
                base = package.split(".")[: max(1, len(package.split(".")) - node.level + 1)]
                mod = ".".join(base + ([mod] if mod else []))
            names = [mod]
        elif isinstance(node, ast.Global):
            problems.append(f"{filename}:{node.lineno}: global statement")
            continue
        else:
            continue
        for name in names:
            top = name.split(".")[0]
            if top in FORBIDDEN:
                problems.append(f"{filename}:{node.lineno}: imports {name}")
            parts = name.split(".")
            if parts[0] in ("model", "khomc") and len(parts) > 1 and parts[1] in FORBIDDEN_KHOMC:
                problems.append(f"{filename}:{node.lineno}: imports engine-side {name}")
    return problems


@pytest.mark.parametrize("source", [
    "import random", "from time import monotonic", "import os.path",
    "from ..engines.search import check", "from khomc.trace import Trace",
    "def f():\n    global X\n    X = 1",
])
def test_the_scanner_catches_violations(source):
    assert violations(source, package="khomc.kho")


def _spec_files():
    for pkg in SPEC_PACKAGES:
        for path in sorted((ROOT / pkg).rglob("*.py")) if (ROOT / pkg).exists() else []:
            yield pkg, path


@pytest.mark.parametrize("pkg,path", list(_spec_files()), ids=lambda x: str(x))
def test_model_code_is_deterministic(pkg, path):
    rel = path.relative_to(ROOT.parent).with_suffix("")
    package = ".".join(rel.parts[:-1]) if rel.name != "__init__" else ".".join(rel.parts)
    assert violations(path.read_text(), str(path), package) == []


def test_there_are_spec_modules_to_check():
    assert len(list(_spec_files())) >= 3


# Layers, bottom up: a module may import its own layer and the ones below, never one above.
LAYERS = ("runtime", "kernel", "kho", "drivers", "scenarios promises")


def _layer(name: str) -> int | None:
    for i, layer in enumerate(LAYERS):
        if name in layer.split():
            return i
    return None


def upward_imports(source: str, filename: str, package: str) -> list[str]:
    me = _layer(package.split(".")[1]) if "." in package else None
    problems = []
    if me is None:
        return problems
    for node in ast.walk(ast.parse(source, filename)):
        if not isinstance(node, ast.ImportFrom):
            continue
        mod = node.module or ""
        if node.level:
            base = package.split(".")[: max(1, len(package.split(".")) - node.level + 1)]
            mod = ".".join(base + ([mod] if mod else []))
        parts = mod.split(".")
        names = [parts[1]] if len(parts) > 1 else [a.name for a in node.names]
        for name in names:
            theirs = _layer(name)
            if parts[0] in ("model", "khomc") and theirs is not None and theirs > me:
                problems.append(f"{filename}:{node.lineno}: {package} imports {mod} {name} (upward)")
    return problems


def test_the_layer_check_catches_an_upward_import():
    assert upward_imports("from ...drivers import fdbox", "x", "khomc.kho.k6_16")
    assert upward_imports("from khomc.scenarios import luo", "x", "khomc.drivers")
    assert not upward_imports("from khomc.kho import fdt", "x", "khomc.drivers")


@pytest.mark.parametrize("pkg,path", list(_spec_files()), ids=lambda x: str(x))
def test_no_layer_imports_upward(pkg, path):
    rel = path.relative_to(ROOT.parent).with_suffix("")
    package = ".".join(rel.parts[:-1]) if rel.name != "__init__" else ".".join(rel.parts)
    package = "khomc" + package[len("model"):]
    assert upward_imports(path.read_text(), str(path), package) == []
