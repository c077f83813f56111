"""The import layering, enforced: nothing imports upward, the storage servers
and the proxy never import each other (the proxy talks to them over HTTP),
the ``objstore`` client is a standalone tool, and no modules import each
other in a loop.

Every import counts, at module level or inside a function; an import under
``if TYPE_CHECKING:`` counts for the layers (a type from an upper layer is
still a dependency on it) but not for cycles (it never runs).  Dynamic imports
(the proxy pipeline's ``importlib``) are not seen.
"""
from __future__ import annotations

import ast
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PACKAGES = ("objstore", "ring", "proxy", "auth", "replicator", "aio", "client")

# The one layer table, bottom to top.  A module belongs to the longest entry
# that is it or one of its parent packages.  A module may import from lower
# layers and from its own group; groups of one layer may not import each other.
LAYERS: tuple[tuple[tuple[str, ...], ...], ...] = (
    (("objstore.common",),),
    (("ring",),),
    (("objstore.obj", "objstore.db", "objstore.container", "objstore.account"),  # storage servers
     ("proxy",)),  # the proxy core (everything in proxy/ but its middleware)
    (("auth", "proxy.middleware", "proxy.s3"),),  # proxy.s3 asks auth for S3 secrets
    (("replicator",), ("replicator.recon",)),  # the daemons; the operator's view of them
    (("aio",),),
)
# a user's tool: the standard library and its own modules, nothing else
STANDALONE = ("client",)
# packages that only group layers (their __init__ must import nothing of ours)
UMBRELLAS = ("objstore",)


@dataclass(frozen=True)
class Import:
    source: str  # importing module
    target: str  # imported module (ours or not)
    where: str  # path:line, for the failure message
    type_only: bool  # under ``if TYPE_CHECKING:``

    def __str__(self) -> str:
        return f"{self.where}: {self.source} imports {self.target}"


def module_files() -> dict[str, Path]:
    """Every module of ours by dotted name (a package by its own name)."""
    modules = {}
    for package in PACKAGES:
        for path in sorted((REPO / package).rglob("*.py")):
            parts = path.relative_to(REPO).with_suffix("").parts
            modules[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return modules


MODULES = module_files()


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or \
        (isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _executed(name: str) -> list[str]:
    """Importing ``a.b.c`` runs ``a``, ``a.b`` and ``a.b.c``."""
    parts = name.split(".")
    return [".".join(parts[:i]) for i in range(1, len(parts) + 1)]


def _targets(node: ast.Import | ast.ImportFrom, module: str, is_package: bool) -> list[str]:
    if isinstance(node, ast.Import):
        return [target for alias in node.names for target in _executed(alias.name)]
    base = node.module or ""
    if node.level:  # relative: resolve against the importing module's package
        package = module.split(".") if is_package else module.split(".")[:-1]
        anchor = package[:len(package) - node.level + 1]
        base = ".".join(anchor + ([base] if base else []))
    targets = _executed(base)
    # ``from package import submodule`` also runs the submodule
    targets += [f"{base}.{alias.name}" for alias in node.names if f"{base}.{alias.name}" in MODULES]
    return targets


def imports_of(module: str, path: Path) -> list[Import]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    type_only_lines: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            for child in node.body:
                type_only_lines.update(range(child.lineno, (child.end_lineno or child.lineno) + 1))
    found = []
    relative = path.relative_to(REPO) if path.is_relative_to(REPO) else path
    for node in ast.walk(tree):
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            for target in _targets(node, module, path.name == "__init__.py"):
                if target != module:
                    found.append(Import(module, target, f"{relative}:{node.lineno}",
                                        node.lineno in type_only_lines))
    return found


ALL_IMPORTS = [imp for module, path in MODULES.items() for imp in imports_of(module, path)]
OURS = [imp for imp in ALL_IMPORTS if imp.target in MODULES]


def place(module: str) -> tuple[int, int] | None:
    """(layer, group) of ``module``: its longest entry in LAYERS."""
    best: tuple[int, tuple[int, int]] | None = None
    for layer, groups in enumerate(LAYERS):
        for group, entries in enumerate(groups):
            for entry in entries:
                if (module == entry or module.startswith(entry + ".")) and \
                        (best is None or len(entry) > best[0]):
                    best = (len(entry), (layer, group))
    return best[1] if best else None


def is_standalone(module: str) -> bool:
    return any(module == tool or module.startswith(tool + ".") for tool in STANDALONE)


def is_parent_package(package: str, module: str) -> bool:
    """Importing a module runs its parent packages first: not a dependency of its own."""
    return module.startswith(package + ".")


def layering_violations(imports: list[Import]) -> list[str]:
    wrong = []
    for imp in imports:
        if is_standalone(imp.source) or imp.target in UMBRELLAS or \
                is_parent_package(imp.target, imp.source):
            continue
        source, target = place(imp.source), place(imp.target)
        if is_standalone(imp.target):
            wrong.append(f"{imp}: {imp.target} is a standalone tool")
        elif source is None or target is None:
            continue  # reported by test_every_module_has_a_place
        elif target[0] > source[0]:
            wrong.append(f"{imp}: upward, layer {source[0]} -> {target[0]}")
        elif target[0] == source[0] and target[1] != source[1]:
            wrong.append(f"{imp}: across layer {source[0]} "
                         f"({', '.join(LAYERS[source[0]][source[1]])} -> "
                         f"{', '.join(LAYERS[target[0]][target[1]])})")
    return wrong


def cycles(imports: list[Import]) -> list[list[Import]]:
    """One import loop per strongly connected group of modules (Tarjan)."""
    graph: dict[str, list[Import]] = {}
    for imp in imports:
        if not imp.type_only:
            graph.setdefault(imp.source, []).append(imp)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    loops = []

    def visit(module: str) -> None:
        index[module] = low[module] = len(index)
        stack.append(module)
        for imp in graph.get(module, []):
            if imp.target not in index:
                visit(imp.target)
                low[module] = min(low[module], low[imp.target])
            elif imp.target in stack:
                low[module] = min(low[module], index[imp.target])
        if low[module] == index[module]:
            members = set()
            while True:
                member = stack.pop()
                members.add(member)
                if member == module:
                    break
            if len(members) > 1:
                loops.append(_loop_through(module, members, graph))

    for module in sorted(graph):
        if module not in index:
            visit(module)
    return loops


def _loop_through(start: str, members: set[str], graph: dict[str, list[Import]]) -> list[Import]:
    """The imports of one loop from ``start`` back to it, inside ``members``."""
    paths: dict[str, list[Import]] = {start: []}
    queue = [start]
    while queue:
        module = queue.pop(0)
        for imp in graph.get(module, []):
            if imp.target == start:
                return paths[module] + [imp]
            if imp.target in members and imp.target not in paths:
                paths[imp.target] = paths[module] + [imp]
                queue.append(imp.target)
    raise AssertionError(f"no loop through {start}")


def test_every_module_has_a_place():
    lost = [module for module in MODULES
            if place(module) is None and not is_standalone(module) and module not in UMBRELLAS]
    assert not lost, f"modules in no layer (add their package to LAYERS): {lost}"
    busy = [str(imp) for imp in OURS if imp.source in UMBRELLAS]
    assert not busy, "umbrella packages must import nothing of ours:\n" + "\n".join(busy)


def test_nothing_imports_upward_or_across():
    wrong = layering_violations(OURS)
    assert not wrong, "imports against the layering:\n" + "\n".join(wrong)


def test_the_client_uses_only_the_standard_library_and_itself():
    foreign = [f"{imp}: not the standard library" for imp in ALL_IMPORTS
               if is_standalone(imp.source) and not is_standalone(imp.target)
               and imp.target.split(".")[0] not in sys.stdlib_module_names]
    assert not foreign, "the client must stand alone:\n" + "\n".join(foreign)


def test_no_import_cycles():
    loops = cycles(OURS)
    assert not loops, "import cycles:\n" + "\n".join(
        "  " + "\n  ".join(str(imp) for imp in loop) for loop in loops)


# The checks themselves, on made-up imports: each must catch what it is for.

def fake(source: str, target: str, line: int = 1, type_only: bool = False) -> Import:
    return Import(source, target, f"{source.replace('.', '/')}.py:{line}", type_only)


@pytest.mark.parametrize("source, target, complaint", [
    ("objstore.common.wsgi", "ring.ring", "upward, layer 0 -> 1"),
    ("ring.ring", "proxy.server", "upward, layer 1 -> 2"),
    ("objstore.obj.server", "proxy.http", "across layer 2"),
    ("proxy.server", "objstore.db.broker", "across layer 2"),
    ("proxy.controllers.obj", "proxy.middleware.slo", "upward, layer 2 -> 3"),
    ("auth.tempauth", "replicator.updater", "upward, layer 3 -> 4"),
    ("replicator.updater", "aio.cli", "upward, layer 4 -> 5"),
    ("replicator.recon.cluster", "replicator.object_replicator", "across layer 4"),
    ("replicator.db_replicator", "replicator.recon.cli", "across layer 4"),
    ("aio.cli", "client.cli", "client.cli is a standalone tool"),
])
def test_layering_check_names_the_offending_import(source, target, complaint):
    [message] = layering_violations([fake(source, target, line=7)])
    assert message.startswith(f"{source.replace('.', '/')}.py:7: {source} imports {target}: ")
    assert complaint in message


@pytest.mark.parametrize("source, target", [
    ("proxy.middleware.slo", "proxy.server"), ("auth.tempauth", "proxy.middleware.dlo"),
    ("objstore.container.server", "objstore.db.broker"), ("replicator.updater", "objstore.obj.server"),
    ("aio.cli", "ring.builder"), ("objstore.obj.server", "objstore"),
    ("replicator.recon.cli", "replicator"),
])
def test_layering_check_allows_downward_and_same_group_imports(source, target):
    assert layering_violations([fake(source, target)]) == []


def test_cycle_check_finds_a_loop_and_ignores_type_only_imports():
    loop = [fake("ring", "ring.builder", 6), fake("ring.builder", "ring", 22)]
    assert [[str(imp) for imp in found] for found in cycles(loop)] == \
        [["ring.py:6: ring imports ring.builder", "ring/builder.py:22: ring.builder imports ring"]]
    assert cycles([fake("a", "b"), fake("b", "c"), fake("c", "a", type_only=True)]) == []
    assert len(cycles([fake("a", "b"), fake("b", "c"), fake("c", "a")])[0]) == 3


def test_imports_are_read_at_every_level_and_resolved(tmp_path):
    source = tmp_path / "server.py"
    source.write_text("import os\nfrom ring.ring import Ring\n\n"
                      "def main():\n    from proxy import pipeline\n\n"
                      "if TYPE_CHECKING:\n    from proxy.server import Application\n")
    found = {(imp.target, imp.type_only) for imp in imports_of("objstore.obj.server", source)}
    assert {("ring", False), ("ring.ring", False), ("proxy.pipeline", False),
            ("proxy.server", True), ("os", False)} <= found
