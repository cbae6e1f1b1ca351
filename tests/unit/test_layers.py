"""The product packages keep their layers, read from the source (nothing is imported).

From the bottom: graph/base/ (settings, text helpers) imports no other product code; knowledge
stands on graph.base and graph.state; tools on graph.base and the graph's vocabulary (services,
state, context); nodes and graph.graph build the graph; server runs it, and nothing outside
server/ imports server. No import cycle spans two packages. Imports under `if TYPE_CHECKING:`
do not count (they never run); imports inside functions do.
"""

from __future__ import annotations

import ast
import functools
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("graph", "nodes", "tools", "knowledge", "server")


@dataclass(frozen=True)
class Import:
    """`importer` imports product module `target` at `line` of its file."""

    importer: str
    target: str
    line: int

    def __str__(self) -> str:
        return f"{self.importer} imports {self.target} (line {self.line})"


def in_package(module: str, *packages: str) -> bool:
    """Whether `module` is one of `packages` or inside one of them."""
    return any(module == p or module.startswith(p + ".") for p in packages)


def top(module: str) -> str:
    return module.partition(".")[0]


# --- Reading the source ---------------------------------------------------------------------


def module_files(root: Path = ROOT) -> dict[str, Path]:
    """Dotted module name -> file, for every module of the product packages."""
    modules = {}
    for package in PACKAGES:
        for path in (root / package).rglob("*.py"):
            parts = path.relative_to(root).with_suffix("").parts
            modules[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return modules


def is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def runtime_imports(node: ast.AST) -> Iterator[ast.Import | ast.ImportFrom]:
    """Every import statement under `node` that can run: at module level, in functions and
    classes, but not in the body of an `if TYPE_CHECKING:` (its `else` does run)."""
    for child in ast.iter_child_nodes(node):
        if isinstance(child, ast.If) and is_type_checking(child.test):
            for statement in child.orelse:
                yield from runtime_imports(ast.Module(body=[statement], type_ignores=[]))
            continue
        if isinstance(child, ast.Import | ast.ImportFrom):
            yield child
        yield from runtime_imports(child)


def imported_names(statement: ast.Import | ast.ImportFrom, module: str,
                   is_package: bool) -> list[str]:
    """The dotted names a statement imports; for `from a import b` that is `a.b`, which
    `resolve` takes to module `a.b` if there is one, else to `a`. Relative imports are
    resolved against `module`."""
    if isinstance(statement, ast.Import):
        return [alias.name for alias in statement.names]
    base = statement.module or ""
    if statement.level:
        package = module.split(".") if is_package else module.split(".")[:-1]
        anchor = package[:len(package) - statement.level + 1]
        base = ".".join([*anchor, base] if base else anchor)
    return [f"{base}.{alias.name}" for alias in statement.names]


def resolve(name: str, modules: Iterable[str]) -> str | None:
    """The product module a dotted name lands in (its longest prefix that is one), if any."""
    known = set(modules)
    while name and name not in known:
        name = name.rpartition(".")[0]
    return name or None


def imports_of(source: str, module: str, modules: Iterable[str],
               is_package: bool = False) -> set[Import]:
    """The product modules that `module`'s source imports, other than itself."""
    found = set()
    for statement in runtime_imports(ast.parse(source)):
        for name in imported_names(statement, module, is_package):
            target = resolve(name, modules)
            if target is not None and target != module:
                found.add(Import(module, target, statement.lineno))
    return found


@functools.cache
def product_imports() -> frozenset[Import]:
    """Every runtime import between modules of the product packages."""
    files = module_files()
    return frozenset(
        found for module, path in files.items()
        for found in imports_of(path.read_text(), module, files, path.name == "__init__.py"))


# --- The module graph -----------------------------------------------------------------------


def module_graph(imports: Iterable[Import], modules: Iterable[str]) -> dict[str, set[str]]:
    """Module -> the modules loading it runs: what it imports, and its parent packages'
    `__init__`s (importing `a.b` runs `a/__init__.py` first)."""
    graph: dict[str, set[str]] = {module: set() for module in modules}
    for found in imports:
        graph[found.importer].add(found.target)
    for module in graph:
        parts = module.split(".")
        graph[module].update(".".join(parts[:i]) for i in range(1, len(parts)))
    return graph


def strongly_connected(graph: dict[str, set[str]]) -> list[set[str]]:
    """The graph's strongly connected components of more than one module (Tarjan): the
    import cycles."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[set[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for successor in graph.get(node, ()):
            if successor not in index:
                visit(successor)
                low[node] = min(low[node], low[successor])
            elif successor in on_stack:
                low[node] = min(low[node], index[successor])
        if low[node] == index[node]:
            component = set()
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.add(member)
                if member == node:
                    break
            if len(component) > 1:
                cycles.append(component)

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return cycles


def cross_package(cycles: list[set[str]]) -> list[list[str]]:
    """The cycles whose modules are not all of one top-level package."""
    return [sorted(cycle) for cycle in cycles if len({top(m) for m in cycle}) > 1]


def breaches(rule_applies_to: str, allowed: tuple[str, ...]) -> list[str]:
    """Imports by modules of `rule_applies_to` of product modules outside `allowed`."""
    return sorted(str(found) for found in product_imports()
                  if in_package(found.importer, rule_applies_to)
                  and not in_package(found.target, *allowed))


# --- The layers -----------------------------------------------------------------------------


def test_graph_base_is_the_bottom_layer():
    assert breaches("graph.base", ("graph.base",)) == []


def test_nothing_outside_the_server_imports_it():
    assert sorted(str(found) for found in product_imports()
                  if in_package(found.target, "server")
                  and not in_package(found.importer, "server")) == []


def test_knowledge_stands_on_the_base_and_the_state_only():
    assert breaches("knowledge", ("knowledge", "graph.base", "graph.state")) == []


def test_tools_see_only_the_graphs_vocabulary():
    vocabulary = ("graph.services", "graph.state", "graph.context")
    assert breaches("tools", ("tools", "graph.base", *vocabulary)) == []


def test_the_graph_package_init_imports_nothing_above_the_base():
    """Importing graph.base or graph.state first runs graph/__init__.py: whatever it imported
    would come along into knowledge and tools, past the rules above."""
    assert sorted(str(found) for found in product_imports() if found.importer == "graph"
                  and not in_package(found.target, "graph.base")) == []


def test_no_import_cycle_spans_two_packages():
    files = module_files()
    assert cross_package(strongly_connected(module_graph(product_imports(), files))) == []


# --- The reading itself, on made-up source, so the checks above can fail ----------------------


MODULES = ("graph", "graph.base", "graph.base.settings", "graph.state", "nodes", "nodes.agent",
           "server", "server.app")


def test_imports_are_read_in_functions_but_not_for_type_checking_only():
    source = (
        "from typing import TYPE_CHECKING\n"
        "import json\n"
        "from graph.base import settings\n"
        "if TYPE_CHECKING:\n"
        "    from server.app import App\n"
        "else:\n"
        "    import graph.state\n"
        "def build():\n"
        "    from nodes.agent import agent\n"
        "    return agent\n")
    found = imports_of(source, "graph.base.links", MODULES)
    assert {(i.target, i.line) for i in found} == {
        ("graph.base.settings", 3), ("graph.state", 7), ("nodes.agent", 9)}


def test_relative_imports_and_names_from_a_package_resolve_to_modules():
    found = imports_of("from . import settings\nfrom ..state import State\nfrom nodes import x\n",
                       "graph.base.links", MODULES)
    assert {i.target for i in found} == {"graph.base.settings", "graph.state", "nodes"}
    inside = imports_of("from .settings import Settings\n", "graph.base", MODULES, is_package=True)
    assert {i.target for i in inside} == {"graph.base.settings"}


def test_a_cycle_across_packages_is_found_and_a_package_re_export_is_not_one():
    imports = [Import("nodes.agent", "server.app", 1), Import("server.app", "nodes.agent", 1),
               Import("graph.base", "graph.base.settings", 1),  # __init__ re-exports settings
               Import("graph.state", "graph.base.settings", 1)]
    cycles = strongly_connected(module_graph(imports, MODULES))
    assert sorted(sorted(c) for c in cycles) == [["graph.base", "graph.base.settings"],
                                                 ["nodes.agent", "server.app"]]
    assert cross_package(cycles) == [["nodes.agent", "server.app"]]
