"""The import graph, read from the source with `ast` (every import, including those inside
functions): no arrow points up between the apps (tenants ← messaging ← collections_app, and no
product app imports the benchmarks), and no two modules of one app import each other, directly
or around a loop."""

import ast
from collections import defaultdict
from dataclasses import dataclass

import pytest

from tests.paths import ROOT

APPS = ("tenants", "messaging", "collections_app", "bench", "config")
# What each app may not import: the apps above it in the layering, and the benchmarks.
FORBIDDEN = {
    "tenants": {"messaging", "collections_app", "bench"},
    "messaging": {"collections_app", "bench"},
    "collections_app": {"bench"},
}


@dataclass(frozen=True)
class Import:
    source: str  # the importing module, dotted
    target: str  # the imported module, dotted
    line: int

    def __str__(self) -> str:
        return f"{self.source} (line {self.line}) imports {self.target}"


def module_name(path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def project_modules() -> dict[str, object]:
    """Every module of the apps, by dotted name, with its path."""
    modules = {}
    for app in APPS:
        for path in sorted((ROOT / app).rglob("*.py")):
            modules[module_name(path)] = path
    return modules


def resolve_relative(module: str, is_package: bool, level: int, name: str | None) -> str:
    package = module.split(".") if is_package else module.split(".")[:-1]
    base = package[: len(package) - (level - 1)] if level > 1 else package
    return ".".join([*base, name] if name else base)


def imports_of(module: str, path, modules) -> list[Import]:
    """Every import statement of the module, anywhere in it, resolved to a dotted module name:
    `from pkg import name` is an import of pkg.name when that is a module, else of pkg."""
    tree = ast.parse(path.read_text(), filename=str(path))
    is_package = path.name == "__init__.py"
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [Import(module, alias.name, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = resolve_relative(module, is_package, node.level, node.module)
            for alias in node.names:
                candidate = f"{base}.{alias.name}"
                target = candidate if candidate in modules else base
                found.append(Import(module, target, node.lineno))
    return found


def app_of(module: str) -> str:
    return module.split(".")[0]


@pytest.fixture(scope="module")
def graph() -> list[Import]:
    modules = project_modules()
    return [edge for name, path in modules.items() for edge in imports_of(name, path, modules)]


def test_the_graph_is_read(graph):
    """The reader finds the imports it must (a test that read nothing would pass anything)."""
    assert len({edge.source for edge in graph}) > 100
    assert any(
        edge.source == "collections_app.apps" and app_of(edge.target) == "messaging"
        for edge in graph
    )


def test_the_reader_sees_imports_inside_functions_and_resolves_names(tmp_path):
    source = tmp_path / "sample.py"
    source.write_text(
        "from collections_app.engine import evaluate, ladder_evaluate\n"
        "def later():\n"
        "    from . import money\n"
        "    import messaging.services\n"
    )
    modules = {
        "collections_app.engine": None,
        "collections_app.engine.evaluate": None,
        "collections_app.money": None,
    }
    edges = imports_of("collections_app.sample", source, modules)
    assert [(edge.target, edge.line) for edge in edges] == [
        ("collections_app.engine.evaluate", 1),
        ("collections_app.engine", 1),
        ("collections_app.money", 3),
        ("messaging.services", 4),
    ]


def test_no_import_points_up_between_apps(graph):
    upward = [
        str(edge)
        for edge in graph
        if app_of(edge.target) in FORBIDDEN.get(app_of(edge.source), set())
    ]
    assert upward == [], "imports pointing up between apps:\n" + "\n".join(upward)


def strongly_connected_components(nodes, edges: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's algorithm, iterative (the graph is a few hundred modules)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    components = []
    counter = 0
    for root in sorted(nodes):
        if root in index:
            continue
        work = [(root, iter(sorted(edges[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(edges[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                components.append(sorted(component))
    return components


def one_loop(component: list[str], edges: dict[str, set[str]], lines) -> str:
    """A shortest loop through the component's first module, written out with line numbers."""
    members = set(component)
    start = component[0]
    previous: dict[str, str] = {}
    frontier = [start]
    while frontier and start not in previous:
        following = []
        for node in frontier:
            for child in sorted(edges[node] & members):
                if child not in previous:
                    previous[child] = node
                    following.append(child)
        frontier = following
    path = [start]
    node = previous[start]
    while node != start:
        path.append(node)
        node = previous[node]
    path.append(start)
    path.reverse()
    steps = [f"{a} (line {lines[a, b]})" for a, b in zip(path, path[1:], strict=False)]
    return " → ".join([*steps, start])


def test_no_import_cycle_inside_an_app(graph):
    edges: dict[str, set[str]] = defaultdict(set)
    lines: dict[tuple[str, str], int] = {}
    nodes = set()
    for edge in graph:
        if app_of(edge.source) != app_of(edge.target) or edge.source == edge.target:
            continue
        nodes |= {edge.source, edge.target}
        edges[edge.source].add(edge.target)
        lines.setdefault((edge.source, edge.target), edge.line)
    cycles = [c for c in strongly_connected_components(nodes, edges) if len(c) > 1]
    report = [
        f"cycle {number} ({len(component)} modules: {', '.join(component)}):\n"
        f"    {one_loop(component, edges, lines)}"
        for number, component in enumerate(cycles, start=1)
    ]
    assert cycles == [], (
        f"{len(cycles)} import cycle(s) inside an app; each loop reads "
        "'module (line of the import) → the module it imports':\n" + "\n".join(report)
    )


def test_the_cycle_finder_finds_a_loop_and_names_it():
    edges = defaultdict(set, {"a.x": {"a.y"}, "a.y": {"a.z"}, "a.z": {"a.x"}, "a.w": {"a.x"}})
    lines = {("a.x", "a.y"): 3, ("a.y", "a.z"): 7, ("a.z", "a.x"): 9, ("a.w", "a.x"): 1}
    components = strongly_connected_components({"a.w", "a.x", "a.y", "a.z"}, edges)
    loops = [c for c in components if len(c) > 1]
    assert loops == [["a.x", "a.y", "a.z"]]
    assert one_loop(loops[0], edges, lines) == ("a.x (line 3) → a.y (line 7) → a.z (line 9) → a.x")
