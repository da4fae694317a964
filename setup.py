"""The import name is ``khomc``; the source folder is ``model/`` (the project's fixed layout).

setuptools cannot rename packages found by ``packages.find``, so the mapping lives here; every
other setting is in pyproject.toml.

``khomc.engines._bfsloop`` is the compiled inner loop of the fast breadth-first search
(model/engines/_bfsloop.c) and its visited table (model/engines/_visited.c);
``khomc.engines._liveness`` the graph passes of the termination check
(model/engines/_liveness.c).  Both are optional: without a C compiler the build skips them and the
same loops run in Python (model/engines/search.py, model/engines/liveness.py).
"""

from setuptools import Extension, find_packages, setup

setup(
    package_dir={"khomc": "model"},
    packages=["khomc" + name[len("model"):] for name in find_packages(include=["model*"])],
    ext_modules=[Extension("khomc.engines._bfsloop",
                           ["model/engines/_bfsloop.c", "model/engines/_visited.c",
                            "model/engines/_keycanon.c"],
                           depends=["model/engines/_visited.h", "model/engines/_keycanon.h"],
                           optional=True),
                 Extension("khomc.engines._liveness", ["model/engines/_liveness.c"],
                           optional=True)],
)
