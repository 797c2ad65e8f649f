"""tvdesk's import layers, read from the source with `ast` (nothing is imported).

A module may import only from its own layer or a lower one. Every import counts: module-level,
inside a function, and under `if TYPE_CHECKING:` (a type-only dependency is still a dependency).
Qt (PySide6, shiboken6, qasync, pyqtgraph) and tvdesk.gui belong to the GUI alone;
tests/test_core_without_qt.py proves the same at run time for what actually gets imported, this
file also catches an import hidden in a function that the run-time check never calls.

Two more rules: no import cycle between tvdesk's packages (tvdesk.X as nodes, every import), and
no import cycle between modules through module-level imports (the ones that run at import time;
a function-level or TYPE_CHECKING import cannot make an import fail half-way).

Known violations are listed below, each with why it must go; the test fails on any new one and
on a listed one that is gone (so the lists only shrink).
"""

from __future__ import annotations

import ast
import fnmatch
import functools
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "tvdesk"

# Low to high. A pattern `x.*` is the package x and everything in it; any other pattern is
# matched with fnmatch against the dotted module name.
LAYERS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("core", (
        "tvdesk",  # tvdesk/__init__.py only
        "tvdesk.model", "tvdesk.errors", "tvdesk.config", "tvdesk.metric_catalog", "tvdesk.paths",
        "tvdesk.fileio", "tvdesk.logs", "tvdesk.secrets", "tvdesk.processes", "tvdesk.events",
        "tvdesk.pine.*",  # transpile, safety, loader, inputs
        "tvdesk.data.*",  # market data
    )),
    ("services", ("tvdesk.engines.*", "tvdesk.exports.*", "tvdesk.analytics.*", "tvdesk.store.*")),
    ("optimize", ("tvdesk.optimize.*",)),
    # services the shells call, the reports they write, the plain data they show
    ("app", ("tvdesk.app.*", "tvdesk.reports.*", "tvdesk.viewmodels.*")),
    ("shell", ("tvdesk.cli", "tvdesk.cli_*", "tvdesk.__main__", "tvdesk.gui.*")),
)

# Imports forbidden although the layers allow them: (importer pattern, target pattern, why).
EXTRA_RULES: tuple[tuple[str, str, str], ...] = (
    ("tvdesk.reports.*", "tvdesk.app.*", "reports must not import app"),
    ("tvdesk.viewmodels.*", "tvdesk.app.*", "view models are data: they call no service"),
)

QT_LIBRARIES = frozenset({"PySide6", "shiboken6", "qasync", "pyqtgraph"})
GUI = "tvdesk.gui.*"

# The GUI's entry points outside tvdesk.gui: allowed only as a function-level import, so that
# the CLI still runs without Qt. (importer, target)
LAZY_GUI_ENTRY_POINTS: frozenset[tuple[str, str]] = frozenset({
    ("tvdesk.cli", "tvdesk.gui.app"),  # `tvdesk gui` / `tvdesk-gui` start the desktop app
})

# Known layer violations, (importer, target), keyed without the line so that edits around an
# import do not matter. None today; an entry would read
#     ("tvdesk.pine.loader", "tvdesk.engines.base"),  # why it is there; to be removed
ALLOWED: frozenset[tuple[str, str]] = frozenset()

# Known import cycles (sets of nodes), each with a comment; to be removed. None today.
ALLOWED_PACKAGE_CYCLES: frozenset[frozenset[str]] = frozenset()
ALLOWED_MODULE_CYCLES: frozenset[frozenset[str]] = frozenset()


@dataclass(frozen=True)
class Import:
    module: str  # the importing module, dotted
    line: int
    target: str  # the imported module, dotted (a tvdesk module, or the name as written)
    kind: str  # "module" (runs at import time), "function" or "type_checking"

    def describe(self, note: str = "") -> str:
        return f"{self.module}:{self.line} imports {self.target}" + (f" ({note})" if note else "")


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def source_files() -> dict[str, Path]:
    return {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def matches(name: str, pattern: str) -> bool:
    if pattern.endswith(".*"):
        return name == pattern[:-2] or name.startswith(pattern[:-1])
    return fnmatch.fnmatchcase(name, pattern)


def is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


class _Collector(ast.NodeVisitor):
    def __init__(self, module: str, is_package: bool, known: set[str]) -> None:
        self.module, self.is_package, self.known = module, is_package, known
        self.functions = 0
        self.type_checking = 0
        self.found: list[Import] = []

    def _kind(self) -> str:
        if self.type_checking:
            return "type_checking"
        return "function" if self.functions else "module"

    def _add(self, node: ast.stmt, target: str) -> None:
        self.found.append(Import(self.module, node.lineno, target, self._kind()))

    def _function(self, node: ast.AST) -> None:
        self.functions += 1
        self.generic_visit(node)
        self.functions -= 1

    visit_FunctionDef = visit_AsyncFunctionDef = visit_Lambda = _function

    def visit_If(self, node: ast.If) -> None:
        if not is_type_checking(node.test):
            self.generic_visit(node)
            return
        self.type_checking += 1
        for child in node.body:
            self.visit(child)
        self.type_checking -= 1
        for child in node.orelse:
            self.visit(child)

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            self._add(node, alias.name)

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        if node.level:
            base = self.module.split(".")
            if not self.is_package:
                base.pop()
            base = base[: len(base) - (node.level - 1)]
            source = ".".join([*base, node.module] if node.module else base)
        else:
            source = node.module or ""
        for alias in node.names:
            # `from package import submodule` depends on the submodule itself
            sub = f"{source}.{alias.name}"
            self._add(node, sub if sub in self.known else source)


@functools.cache
def collect_imports() -> tuple[Import, ...]:
    files = source_files()
    known = set(files)
    found: dict[Import, None] = {}  # one per (line, target, kind): `from x import a, b` is one
    for name, path in files.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        collector = _Collector(name, path.name == "__init__.py", known)
        collector.visit(tree)
        found.update(dict.fromkeys(collector.found))
    return tuple(found)


def internal(imports: Iterable[Import]) -> Iterator[Import]:
    return (i for i in imports if i.target == "tvdesk" or i.target.startswith("tvdesk."))


def layer_of(name: str) -> tuple[int, str] | None:
    hits = [(rank, layer) for rank, (layer, patterns) in enumerate(LAYERS)
            if any(matches(name, p) for p in patterns)]
    return hits[0] if len(hits) == 1 else None


def layer_violations(imports: Iterable[Import]) -> list[tuple[Import, str]]:
    bad = []
    for imp in internal(imports):
        source, target = layer_of(imp.module), layer_of(imp.target)
        assert source and target, imp.describe("module outside the layer table")
        if target[0] > source[0]:
            bad.append((imp, f"layer {source[1]} -> layer {target[1]}"))
        for importer, imported, why in EXTRA_RULES:
            if matches(imp.module, importer) and matches(imp.target, imported):
                bad.append((imp, f"layer {source[1]} -> layer {target[1]}: {why}"))
    return bad


def gui_violations(imports: Iterable[Import]) -> list[tuple[Import, str]]:
    bad = []
    for imp in imports:
        if matches(imp.module, GUI):
            continue
        if imp.target.split(".")[0] in QT_LIBRARIES:
            bad.append((imp, f"layer {layer_of(imp.module)[1]} -> Qt, only tvdesk.gui may"))
        elif matches(imp.target, GUI) and not (
                imp.kind == "function" and (imp.module, imp.target) in LAZY_GUI_ENTRY_POINTS):
            bad.append((imp, f"layer {layer_of(imp.module)[1]} -> tvdesk.gui, only an entry point"
                             " in LAZY_GUI_ENTRY_POINTS may, and only inside a function"))
    return bad


def strongly_connected(graph: dict[str, set[str]]) -> list[frozenset[str]]:
    """Tarjan's algorithm, iterative; only components with a cycle (two nodes or more)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[frozenset[str]] = []
    nodes = sorted(set(graph) | {t for targets in graph.values() for t in targets})
    for start in nodes:
        if start in index:
            continue
        work = [(start, iter(sorted(graph.get(start, ()))))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, successors = work[-1]
            for succ in successors:
                if succ not in index:
                    index[succ] = low[succ] = len(index)
                    stack.append(succ)
                    on_stack.add(succ)
                    work.append((succ, iter(sorted(graph.get(succ, ())))))
                    break
                if succ in on_stack:
                    low[node] = min(low[node], index[succ])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    component = set()
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.add(member)
                        if member == node:
                            break
                    if len(component) > 1:
                        found.append(frozenset(component))
    return found


def package_of(name: str) -> str:
    return ".".join(name.split(".")[:2])


def cycle_report(components: Iterable[frozenset[str]], edges: list[Import],
                 node: object = str) -> list[str]:
    lines = []
    for component in components:
        lines.append("cycle: " + ", ".join(sorted(component)))
        lines += ["    " + e.describe(e.kind) for e in edges
                  if node(e.module) in component and node(e.target) in component
                  and node(e.module) != node(e.target)]
    return lines


def _check(bad: list[tuple[Import, str]], allowed: frozenset[tuple[str, str]]) -> None:
    new = [imp.describe(note) for imp, note in bad if (imp.module, imp.target) not in allowed]
    assert not new, "imports against tvdesk's layers:\n" + "\n".join(new)


def test_every_module_has_exactly_one_layer() -> None:
    unplaced = [name for name in source_files() if layer_of(name) is None]
    assert not unplaced, f"add these modules to exactly one layer in LAYERS: {unplaced}"
    patterns = [p for _, ps in LAYERS for p in ps]
    stale = [p for p in patterns if not any(matches(name, p) for name in source_files())]
    assert not stale, f"patterns in LAYERS that match no module: {stale}"


def test_the_collector_sees_every_kind_of_import() -> None:
    imports = collect_imports()
    assert len(list(internal(imports))) > 300
    assert {i.kind for i in imports} == {"module", "function", "type_checking"}
    # a function-level import (the CLI starting the GUI) and a TYPE_CHECKING one
    assert any(i.module == "tvdesk.cli" and i.target == "tvdesk.gui.app" and i.kind == "function"
               for i in imports)
    assert any(i.module == "tvdesk.cli" and i.kind == "type_checking" for i in imports)


def test_the_rules_catch_what_they_should() -> None:
    """The checks on made-up imports, so that a clean tree does not hide a blind check."""
    def imp(module: str, target: str, kind: str = "function") -> Import:
        return Import(module, 7, target, kind)

    [(bad, note)] = layer_violations([imp("tvdesk.pine.loader", "tvdesk.engines.base")])
    assert bad.describe(note) == (
        "tvdesk.pine.loader:7 imports tvdesk.engines.base (layer core -> layer services)")
    [(_, note)] = layer_violations([imp("tvdesk.store", "tvdesk.optimize.loop", "type_checking")])
    assert note == "layer services -> layer optimize"
    [(_, note)] = layer_violations([imp("tvdesk.reports.html", "tvdesk.app.report", "module")])
    assert note == "layer app -> layer app: reports must not import app"
    assert layer_violations([imp("tvdesk.app.report", "tvdesk.reports.html"),
                             imp("tvdesk.gui.app", "tvdesk.cli"),
                             imp("tvdesk.cli_optimize", "tvdesk.config")]) == []
    assert len(gui_violations([imp("tvdesk.app.engines", "PySide6.QtCore"),
                               imp("tvdesk.cli", "pyqtgraph"),
                               imp("tvdesk.cli", "tvdesk.gui.app", "module"),
                               imp("tvdesk.cli_optimize", "tvdesk.gui.app"),
                               imp("tvdesk.cli", "tvdesk.gui.qt")])) == 5
    assert gui_violations([imp("tvdesk.cli", "tvdesk.gui.app"),
                           imp("tvdesk.gui.qt", "PySide6.QtWidgets")]) == []
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a", "d"}, "d": {"e"}, "e": {"d"}, "f": {"a"}}
    assert sorted(map(sorted, strongly_connected(graph))) == [["a", "b", "c"], ["d", "e"]]


def test_imports_respect_the_layers() -> None:
    _check(layer_violations(collect_imports()), ALLOWED)


def test_only_the_gui_imports_qt_and_the_gui() -> None:
    _check(gui_violations(collect_imports()), frozenset())


def test_known_violations_are_still_there() -> None:
    """A fixed violation leaves ALLOWED too: the list only shrinks."""
    current = {(imp.module, imp.target) for imp, _ in layer_violations(collect_imports())}
    assert not ALLOWED - current, f"fixed, remove from ALLOWED: {sorted(ALLOWED - current)}"
    entry_points = {(i.module, i.target) for i in collect_imports() if i.kind == "function"}
    gone = LAZY_GUI_ENTRY_POINTS - entry_points
    assert not gone, f"remove from LAZY_GUI_ENTRY_POINTS: {sorted(gone)}"


def test_no_import_cycle_between_packages() -> None:
    edges = [i for i in internal(collect_imports()) if package_of(i.module) != package_of(i.target)]
    graph: dict[str, set[str]] = defaultdict(set)
    for imp in edges:
        graph[package_of(imp.module)].add(package_of(imp.target))
    cycles = strongly_connected(graph)
    new = [c for c in cycles if c not in ALLOWED_PACKAGE_CYCLES]
    assert not new, "import cycles between packages:\n" + "\n".join(
        cycle_report(new, edges, package_of))
    gone = ALLOWED_PACKAGE_CYCLES - set(cycles)
    assert not gone, f"fixed, remove from ALLOWED_PACKAGE_CYCLES: {sorted(map(sorted, gone))}"


def test_no_import_cycle_between_modules_at_import_time() -> None:
    edges = [i for i in internal(collect_imports()) if i.kind == "module" and i.module != i.target]
    graph: dict[str, set[str]] = defaultdict(set)
    for imp in edges:
        graph[imp.module].add(imp.target)
    cycles = strongly_connected(graph)
    new = [c for c in cycles if c not in ALLOWED_MODULE_CYCLES]
    assert not new, "module-level import cycles:\n" + "\n".join(cycle_report(new, edges))
    gone = ALLOWED_MODULE_CYCLES - set(cycles)
    assert not gone, f"fixed, remove from ALLOWED_MODULE_CYCLES: {sorted(map(sorted, gone))}"
