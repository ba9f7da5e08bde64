"""The house rules of the code base, read from the source with `ast` (nothing is imported):

- no module over 400 lines (split along a real seam instead);
- the REST API never imports the Graph client (the m365 services translate its errors);
- the Microsoft 365 integration holds no views (it never imports the console or the API);
- m365sim never imports Lockstep;
- no import cycles between Lockstep's modules (module-level imports).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SOURCES = (ROOT / "src", ROOT / "m365sim" / "src")
MAX_LINES = 400

# Modules allowed over the limit, each with its reason (none today).
TOO_LONG_FOR_NOW: frozenset[str] = frozenset()

# Known module-level cycles being fixed (none today).
CYCLES_FOR_NOW: frozenset[frozenset[str]] = frozenset()


@dataclass(frozen=True)
class Module:
    name: str  # dotted, e.g. lockstep.m365.engine
    path: Path
    is_package: bool

    @property
    def relative(self) -> str:
        return self.path.relative_to(ROOT).as_posix()


@dataclass(frozen=True)
class Import:
    target: str  # the dotted name as written (resolved for relative imports)
    names: tuple[str, ...]  # for `from x import a, b`: a and b; empty for `import x`
    module_level: bool  # outside any function, and not only for type checking
    line: int


def modules() -> list[Module]:
    found = []
    for source in SOURCES:
        for path in sorted(source.rglob("*.py")):
            parts = list(path.relative_to(source).with_suffix("").parts)
            if "migrations" in parts:
                continue
            is_package = parts[-1] == "__init__"
            if is_package:
                parts = parts[:-1]
            found.append(Module(".".join(parts), path, is_package))
    return found


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def imports_of(module: Module) -> list[Import]:
    tree = ast.parse(module.path.read_text(encoding="utf-8"), filename=str(module.path))
    found: list[Import] = []

    def visit(node: ast.AST, module_level: bool) -> None:
        if isinstance(node, ast.Import):
            found.extend(Import(alias.name, (), module_level, node.lineno) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            target = node.module or ""
            if node.level:
                package = module.name.split(".")
                if not module.is_package:
                    package = package[:-1]
                package = package[: len(package) - (node.level - 1)]
                target = ".".join([*package, *([node.module] if node.module else [])])
            names = tuple(alias.name for alias in node.names)
            found.append(Import(target, names, module_level, node.lineno))
        for child in ast.iter_child_nodes(node):
            inside_function = isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda)
            only_typing = isinstance(node, ast.If) and _is_type_checking(node.test) and child in node.body
            visit(child, module_level and not inside_function and not only_typing)

    visit(tree, True)
    return found


def imported_modules(module: Module, known: dict[str, Module]) -> Iterator[tuple[str, Import]]:
    """Each Lockstep or m365sim module `module` imports (a submodule named in `from x import y` counts)."""
    for found in imports_of(module):
        candidates = [f"{found.target}.{name}" for name in found.names] or [found.target]
        for candidate in candidates:
            name = candidate
            while name and name not in known:
                name = name.rpartition(".")[0]
            if name and name != module.name:
                yield name, found


@pytest.fixture(scope="module")
def known() -> dict[str, Module]:
    return {m.name: m for m in modules()}


def test_no_module_is_over_400_lines(known: dict[str, Module]) -> None:
    too_long = {}
    for module in known.values():
        lines = len(module.path.read_text(encoding="utf-8").splitlines())
        if lines > MAX_LINES and module.relative not in TOO_LONG_FOR_NOW:
            too_long[module.relative] = lines
    assert not too_long, f"Over {MAX_LINES} lines; split along a real seam: {too_long}"


def test_the_exceptions_to_the_length_rule_still_exist() -> None:
    missing = [path for path in TOO_LONG_FOR_NOW if not (ROOT / path).exists()]
    assert not missing, f"Remove from TOO_LONG_FOR_NOW (gone): {missing}"


def _violations(known: dict[str, Module], importer: str, forbidden: str) -> list[str]:
    found = []
    for module in known.values():
        if module.name != importer and not module.name.startswith(importer + "."):
            continue
        for name, how in imported_modules(module, known):
            if name == forbidden or name.startswith(forbidden + "."):
                found.append(f"{module.relative}:{how.line} imports {name}")
    return found


def test_the_rest_api_never_imports_the_graph_client(known: dict[str, Module]) -> None:
    found = _violations(known, "lockstep.api", "lockstep.m365.graph")
    assert not found, "\n".join(found)


@pytest.mark.parametrize("views", ["lockstep.console", "lockstep.api"])
def test_the_microsoft_365_integration_holds_no_views(known: dict[str, Module], views: str) -> None:
    found = _violations(known, "lockstep.m365", views)
    assert not found, "\n".join(found)


@pytest.mark.parametrize(
    ("importer", "forbidden"),
    [
        # The core knows no adapter (DESIGN): it emits events, the adapters subscribe.
        *[("lockstep.directory", a) for a in ("lockstep.mail", "lockstep.portal", "lockstep.m365")],
        # The outbox renders and sends; which email a flow sends is decided by the flow.
        *[("lockstep.mail", a) for a in ("lockstep.portal", "lockstep.m365", "lockstep.console")],
        # Microsoft 365 learns of sign-ins and tells of bindings through events only.
        ("lockstep.m365", "lockstep.portal"),
        ("lockstep.m365", "lockstep.mail"),
        # The User Portal and the Admin Portal are separate houses (SPEC 1).
        ("lockstep.portal", "lockstep.console"),
        ("lockstep.console", "lockstep.portal.views"),
        # SAML sits on top of the core and Microsoft 365; neither knows it.
        *[(a, "lockstep.saml") for a in ("lockstep.directory", "lockstep.m365", "lockstep.mail")],
        *[("lockstep.saml", a) for a in ("lockstep.console", "lockstep.api")],
    ],
)
def test_the_layers_keep_apart(known: dict[str, Module], importer: str, forbidden: str) -> None:
    found = _violations(known, importer, forbidden)
    assert not found, "\n".join(found)


def test_m365sim_never_imports_lockstep(known: dict[str, Module]) -> None:
    found = _violations(known, "m365sim", "lockstep")
    assert not found, "\n".join(found)


def import_graph(known: dict[str, Module]) -> dict[str, set[str]]:
    """Module-level imports between Lockstep's modules, less the known cycles being fixed."""
    graph: dict[str, set[str]] = {}
    for module in known.values():
        if not module.name.startswith("lockstep"):
            continue
        targets = graph.setdefault(module.name, set())
        for name, how in imported_modules(module, known):
            if how.module_level and name.startswith("lockstep"):
                targets.add(name)
    for pair in CYCLES_FOR_NOW:
        first, second = sorted(pair)
        graph.get(first, set()).discard(second)
        graph.get(second, set()).discard(first)
    return graph


def find_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """One cycle (a -> b -> ... -> a) per strongly connected group of modules (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []

    def connect(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph.get(node, ())):
            if target not in index:
                connect(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                groups.append(group)

    for node in sorted(graph):
        if node not in index:
            connect(node)
    return [_cycle_in(graph, set(group)) for group in groups]


def _cycle_in(graph: dict[str, set[str]], group: set[str]) -> list[str]:
    start = min(group)
    paths = {start: [start]}
    queue = [start]
    while queue:  # breadth first: the shortest way back to `start`
        node = queue.pop(0)
        for target in sorted(graph.get(node, set()) & group):
            if target == start:
                return [*paths[node], start]
            if target not in paths:
                paths[target] = [*paths[node], target]
                queue.append(target)
    raise AssertionError(f"no cycle through {start}")  # unreachable for a strongly connected group


def test_no_import_cycles(known: dict[str, Module]) -> None:
    cycles = find_cycles(import_graph(known))
    assert not cycles, "Import cycles: " + "; ".join(" -> ".join(cycle) for cycle in cycles)


def test_the_cycle_finder_reports_the_cycle() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a", "d"}, "d": set()}
    assert find_cycles(graph) == [["a", "b", "c", "a"]]
    assert find_cycles({"a": {"b"}, "b": set()}) == []


def test_function_level_and_type_checking_imports_do_not_count_as_cycles(tmp_path: Path) -> None:
    source = tmp_path / "example.py"
    source.write_text(
        "from typing import TYPE_CHECKING\n"
        "import lockstep.a\n"
        "if TYPE_CHECKING:\n"
        "    import lockstep.b\n"
        "def later():\n"
        "    import lockstep.c\n"
    )
    found = imports_of(Module("lockstep.example", source, False))
    level = {i.target: i.module_level for i in found}
    assert level == {"typing": True, "lockstep.a": True, "lockstep.b": False, "lockstep.c": False}


@pytest.mark.parametrize(
    ("importer", "forbidden"),
    [
        ("lockstep.m365.cli", "lockstep.cli"),  # cli.py registers m365's commands, never the reverse
        ("lockstep.m365.services", "lockstep.m365.tasks"),  # tasks run services; services name tasks
    ],
)
def test_the_old_cycles_stay_broken_at_any_level(
    known: dict[str, Module], importer: str, forbidden: str
) -> None:
    """Issue 8's two cycles, checked at every level (imports inside functions too)."""
    found = _violations(known, importer, forbidden)
    assert not found, "\n".join(found)
