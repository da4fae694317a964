"""The import name is ``khomc``; the source folder is ``model/`` (the project's fixed layout).

setuptools cannot rename packages found by ``packages.find``, so the mapping lives here; every
other setting is in pyproject.toml.
"""

from setuptools import find_packages, setup

setup(
    package_dir={"khomc": "model"},
    packages=["khomc" + name[len("model"):] for name in find_packages(include=["model*"])],
)
