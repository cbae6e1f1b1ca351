"""The container image installs the package (`pip install .`, not editable), so a file the
code reads at run time reaches it only through [tool.setuptools.package-data]: every
non-Python file of the product packages must be listed there."""

from __future__ import annotations

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("graph", "nodes", "tools", "knowledge", "server")
NOT_SHIPPED = {".pyc"}


def packaged_files() -> set[Path]:
    """What setuptools puts in the wheel beside the modules: each glob, relative to its package."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    files: set[Path] = set()
    for package, patterns in config["package-data"].items():
        for pattern in patterns:
            files |= {path for path in (ROOT / package).glob(pattern) if path.is_file()}
    return files


def data_files() -> set[Path]:
    return {path for package in PACKAGES for path in (ROOT / package).rglob("*")
            if path.is_file() and path.suffix != ".py" and path.suffix not in NOT_SHIPPED
            and "__pycache__" not in path.parts}


def test_every_data_file_of_the_product_is_packaged():
    missing = sorted(str(path.relative_to(ROOT)) for path in data_files() - packaged_files())
    assert not missing, f"add to [tool.setuptools.package-data] in pyproject.toml: {missing}"


def test_the_files_the_server_serves_are_among_them():
    packaged = {str(path.relative_to(ROOT)) for path in packaged_files()}
    assert {"server/static/console.js", "server/migrations/0001_initial.sql",
            "server/desk/sla.toml", "knowledge/sample/cancelling-an-order.md"} <= packaged
