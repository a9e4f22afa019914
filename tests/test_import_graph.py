"""The house's layout, read from the source with `ast`: no import circles among the package modules,
and the packages import each other only downwards (engine at the bottom; bot and train beside each
other on it; bench above them all).

Every import counts: at module level, inside functions, under `if TYPE_CHECKING:` (an import for a
type hint that stands for a call back up is still a circle), relative ones, and the names a
package's `__init__` exports lazily (`_EXPORTS = {"Generator": "engine.generator", ...}`).
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("engine", "bot", "train")
SCRIPTS = ("bench",)  # folders of scripts that import the packages (no __init__.py)
ALLOWED = {  # package -> the packages it may import
    "engine": set(),
    "bot": {"engine"},
    "train": {"engine"},
    "bench": {"engine", "bot", "train"},
}


def module_files(root: Path, folders: Iterable[str] = PACKAGES + SCRIPTS) -> dict[str, Path]:
    """Dotted module name -> source file, for every .py file under `folders` (models and data skipped)."""
    modules = {}
    for folder in folders:
        for path in sorted((root / folder).rglob("*.py")):
            parts = list(path.relative_to(root).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            modules[".".join(parts)] = path
    return modules


def lazy_exports(tree: ast.Module) -> dict[str, str]:
    """A package `__init__`'s `_EXPORTS = {name: module}` table (empty when it has none)."""
    for node in tree.body:
        if (isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "_EXPORTS" for t in node.targets)
                and isinstance(node.value, ast.Dict)):
            return {k.value: v.value for k, v in zip(node.value.keys, node.value.values, strict=True)
                    if isinstance(k, ast.Constant) and isinstance(v, ast.Constant)}
    return {}


def imported_names(module: str, path: Path) -> Iterator[tuple[str, str | None]]:
    """(module imported, name taken from it or None) for every import statement anywhere in the file,
    relative imports made absolute."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, None
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[:len(anchor) - (node.level - 1)]
                base = ".".join(anchor + ([base] if base else []))
            for alias in node.names:
                yield base, alias.name


def import_graph(root: Path = ROOT, folders: Iterable[str] = PACKAGES + SCRIPTS) -> dict[str, set[str]]:
    """Module -> the project modules it imports."""
    files = module_files(root, folders)
    exports = {name: lazy_exports(ast.parse(path.read_text(encoding="utf-8")))
               for name, path in files.items() if path.name == "__init__.py"}
    graph: dict[str, set[str]] = {name: set() for name in files}
    for module, path in files.items():
        for target, name in imported_names(module, path):
            if name is not None and f"{target}.{name}" in files:
                found = f"{target}.{name}"  # `from pkg import submodule`
            elif name is not None and name in exports.get(target, {}):
                found = exports[target][name]  # a lazily exported name: the module that defines it
            else:
                if module.split(".")[0] in SCRIPTS and f"{module.split('.')[0]}.{target}" in files:
                    target = f"{module.split('.')[0]}.{target}"  # a script importing its neighbour by name
                prefixes = [".".join(target.split(".")[:i]) for i in range(target.count(".") + 1, 0, -1)]
                found = next((p for p in prefixes if p in files), "")
            if found and found != module:
                graph[module].add(found)
    return graph


def circles(graph: dict[str, set[str]]) -> list[set[str]]:
    """The groups of modules that import each other, directly or not (strongly connected, Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    groups: list[set[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            group = set()
            while True:
                member = stack.pop()
                group.add(member)
                if member == node:
                    break
            if len(group) > 1:
                groups.append(group)

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return groups


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """One cycle (a -> b -> ... -> a) through each circle: the shortest from its first module."""
    return [cycle_through(graph, group) for group in circles(graph)]


def cycle_through(graph: dict[str, set[str]], group: set[str]) -> list[str]:
    """A shortest path from the group's first module back to itself, inside the group."""
    start = min(group)
    paths = {start: [start]}
    frontier = [start]
    while frontier:
        following = []
        for node in frontier:
            for nxt in sorted(graph[node] & group):
                if nxt == start:
                    return paths[node] + [start]
                if nxt not in paths:
                    paths[nxt] = paths[node] + [nxt]
                    following.append(nxt)
        frontier = following
    raise AssertionError(f"no cycle through {sorted(group)}")


@pytest.fixture(scope="module")
def graph() -> dict[str, set[str]]:
    return import_graph()


@pytest.mark.parametrize("package", PACKAGES + SCRIPTS)
def test_no_import_circle_among_modules(graph: dict[str, set[str]], package: str) -> None:
    found = [g for g in circles(graph) if any(m == package or m.startswith(package + ".") for m in g)]
    assert not found, "import circles: " + "; ".join(
        f"{' -> '.join(cycle_through(graph, g))} (the circle holds {', '.join(sorted(g))})" for g in found)


def test_packages_import_only_downwards(graph: dict[str, set[str]]) -> None:
    upward = sorted(f"{module} imports {target}" for module, targets in graph.items() for target in targets
                    if target.split(".")[0] != module.split(".")[0]
                    and target.split(".")[0] not in ALLOWED[module.split(".")[0]])
    assert not upward, "imports across the layers: " + "; ".join(upward)


ROOMS = {  # bot's rooms -> the rooms they may import (the top of bot/ is what both front ends share)
    "bot.terminal": {"bot", "bot.learn"},
    "bot.discord_app": {"bot", "bot.learn"},
    "bot.learn": {"bot"},
    "bot": {"bot"},  # the shared modules import only each other (and engine)
}
ENTRY = "bot.__main__"  # starts either front end; nothing imports it


def room_of(module: str) -> str:
    """`bot.terminal.repl` -> `bot.terminal`; a module at the top of bot/ -> `bot`."""
    parts = module.split(".")
    return ".".join(parts[:2]) if len(parts) > 2 or f"{parts[0]}.{parts[-1]}" in ROOMS else parts[0]


def test_bot_rooms_import_only_what_they_may(graph: dict[str, set[str]]) -> None:
    """The terminal never imports the Discord room nor the reverse; learn serves both and imports neither;
    nothing reaches back into bot/__main__."""
    crossing = sorted(f"{module} imports {target}" for module, targets in graph.items() if module.startswith("bot")
                      and module != ENTRY for target in targets if target.startswith("bot")
                      and (target == ENTRY or room_of(target) not in ROOMS[room_of(module)] | {room_of(module)}))
    assert not crossing, "imports across bot's rooms: " + "; ".join(crossing)
    assert not [m for m, targets in graph.items() if ENTRY in targets], "something imports bot/__main__"


def test_no_function_takes_more_than_six_parameters() -> None:
    """Context travels in a value object (bot/write_request.py, ...), not in long rows of parameters."""
    long = []
    for module, path in module_files(ROOT, PACKAGES).items():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                names = [a.arg for a in node.args.posonlyargs + node.args.args + node.args.kwonlyargs]
                names = names[1:] if names[:1] in (["self"], ["cls"]) else names
                command = names[:1] == ["ctx"]  # a Discord command: its parameters are the command's options
                if len(names) > 6 and not command:
                    long.append(f"{module}.{node.name} ({len(names)})")
    assert not long, "functions of more than 6 parameters: " + ", ".join(long)


def test_the_graph_sees_every_kind_of_import(tmp_path: Path) -> None:
    """The checker itself: a circle made of a TYPE_CHECKING import, a relative import, a function's
    import and a lazily exported name is found and named."""
    pkg = tmp_path / "pkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text('_EXPORTS = {"Thing": "pkg.d"}\n')
    (pkg / "a.py").write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from pkg.b import B\n")
    (pkg / "b.py").write_text("from . import c\n")
    (pkg / "c.py").write_text("def f():\n    from pkg import Thing\n")
    (pkg / "d.py").write_text("import pkg.a\n")
    (pkg / "e.py").write_text("from .d import x\n")  # outside the circle
    graph = import_graph(tmp_path, ["pkg"])
    assert graph["pkg.e"] == {"pkg.d"}
    assert cycles(graph) == [["pkg.a", "pkg.b", "pkg.c", "pkg.d", "pkg.a"]]
    (pkg / "d.py").write_text("import os\n")
    assert cycles(import_graph(tmp_path, ["pkg"])) == []
