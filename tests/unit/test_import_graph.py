"""Imports run one way, read from the source with ast: no cycle, nothing imports scripts/, the product no tools.

Every import counts, those under `if TYPE_CHECKING:` and those inside a function too: a cycle that only
type checking sees is still a cycle a reader has to untangle.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

from local_cloud.template import ROOT

# The emulator, what drives a cloud from outside, and the code the scripts run and the tests import.
PACKAGES = ("local_cloud", "drivers", "tools")
# What ships to Lambda and what a user runs as the local cloud: it imports neither tools/ nor scripts/.
PRODUCT = ("layer", "functions", "local_cloud", "drivers")
# Every folder of Python code but scripts/: none of them imports a script (scripts are command-line tools).
NOT_SCRIPTS = (*PRODUCT, "tools", "tests")


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported(path: Path) -> Iterator[str]:
    """Every module `path` names in an import, absolute (the project uses no relative imports)."""
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            assert node.level == 0, f"{path}: a relative import"
            yield node.module
            yield from (f"{node.module}.{alias.name}" for alias in node.names)  # `from pkg import module`


def import_graph(packages: tuple[str, ...] = PACKAGES) -> dict[str, set[str]]:
    """Module -> the modules of `packages` it imports (a package's __init__ is a module of its own)."""
    files = {module_name(path): path for package in packages for path in (ROOT / package).rglob("*.py")}
    return {
        name: {other for other in imported(path) if other in files and other != name} for name, path in files.items()
    }


def cycle_in(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of the graph as the path round it (first module repeated last), or None."""
    done: set[str] = set()
    path: list[str] = []

    def visit(module: str) -> list[str] | None:
        if module in path:
            return [*path[path.index(module) :], module]
        if module in done:
            return None
        path.append(module)
        for target in sorted(graph[module]):
            if found := visit(target):
                return found
        path.pop()
        done.add(module)
        return None

    for module in sorted(graph):
        if found := visit(module):
            return found
    return None


def test_the_emulator_its_drivers_and_the_tools_import_in_one_direction() -> None:
    graph = import_graph()
    assert len(graph) > 40  # every module was read: the emulator's, the drivers' and the tools'
    assert cycle_in(graph) is None, " -> ".join(cycle_in(graph) or [])


def test_the_drivers_do_not_reach_into_the_emulator() -> None:
    """What drives a cloud from outside works against any cloud, so it imports nothing of the local one."""
    reaching = {
        module: sorted(target for target in targets if target.startswith("local_cloud"))
        for module, targets in import_graph().items()
        if module.startswith("drivers")
    }
    assert {module: targets for module, targets in reaching.items() if targets} == {}


def python_folders() -> set[str]:
    """The repository's top-level folders that hold Python code (hidden ones, such as the virtualenvs, left out)."""
    return {
        folder.name
        for folder in ROOT.iterdir()
        if folder.is_dir() and not folder.name.startswith(".") and next(folder.rglob("*.py"), None)
    }


def imports_of(folders: tuple[str, ...], packages: set[str]) -> list[str]:
    """Each import, by a file under `folders`, of a module of `packages` (top-level names), as "file imports module"."""
    return [
        f"{path.relative_to(ROOT)} imports {module}"
        for folder in folders
        for path in sorted((ROOT / folder).rglob("*.py"))
        for module in sorted(set(imported(path)))
        if module.split(".")[0] in packages
    ]


def test_every_folder_of_python_code_is_checked() -> None:
    assert python_folders() == {*NOT_SCRIPTS, "scripts"}


def test_nothing_outside_scripts_imports_scripts() -> None:
    """Not the tests either: what a test needs of a script lives in tools/, which the script imports."""
    assert imports_of(NOT_SCRIPTS, {"scripts"}) == []


def test_the_product_imports_neither_tools_nor_scripts() -> None:
    assert imports_of(PRODUCT, {"tools", "scripts"}) == []


@pytest.mark.parametrize(
    ("graph", "cycle"),
    [
        ({"a": {"b"}, "b": {"c"}, "c": {"a"}}, ["a", "b", "c", "a"]),
        ({"a": {"b"}, "b": set(), "c": {"c"}}, ["c", "c"]),
        ({"a": {"b", "c"}, "b": {"c"}, "c": set()}, None),
    ],
)
def test_a_cycle_is_found_wherever_it_is(graph: dict[str, set[str]], cycle: list[str] | None) -> None:
    assert cycle_in(graph) == cycle
