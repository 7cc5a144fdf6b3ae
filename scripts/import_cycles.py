"""Show every import cycle in afterbeat: between modules, and between sibling packages.

Reads the import graph with grimp (the library under import-linter), TYPE_CHECKING and
function-level imports included, and ignores nothing: where `lint-imports` lists exceptions
in pyproject.toml, this script still shows them. Exit status 0 means no cycle at all.

Usage: python scripts/import_cycles.py [PACKAGE]   (default: afterbeat)
"""

from __future__ import annotations

import sys
from collections.abc import Iterator

import grimp


def strongly_connected(graph: grimp.ImportGraph) -> list[list[str]]:
    """Sets of two or more modules that import each other, directly or around a loop."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(start: str) -> None:
        # Iterative Tarjan: (module, iterator over the modules it imports).
        work: list[tuple[str, Iterator[str]]] = []

        def enter(module: str) -> None:
            index[module] = low[module] = len(index)
            stack.append(module)
            on_stack.add(module)
            work.append((module, iter(sorted(graph.find_modules_directly_imported_by(module)))))

        enter(start)
        while work:
            module, targets = work[-1]
            target = next(targets, None)
            if target is not None:
                if target not in index:
                    enter(target)
                elif target in on_stack:
                    low[module] = min(low[module], index[target])
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[module])
            if low[module] == index[module]:
                component: list[str] = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == module:
                        break
                if len(component) > 1:
                    found.append(sorted(component))

    for module in sorted(graph.modules):
        if module not in index:
            visit(module)
    return sorted(found)


def sibling_cycles(graph: grimp.ImportGraph, package: str) -> dict[str, set[tuple[str, str]]]:
    """Per package: the imports whose removal would break its children's cycles (none: {})."""
    breakers: dict[str, set[tuple[str, str]]] = {}
    for parent in sorted([package, *graph.find_descendants(package)]):
        if graph.find_children(parent):
            nominated = graph.nominate_cycle_breakers(parent)
            if nominated:
                breakers[parent] = set(nominated)
    return breakers


def main(argv: list[str]) -> int:
    """Print the cycles of the package named in argv (default afterbeat); 1 if there are any."""
    package = argv[1] if len(argv) > 1 else "afterbeat"
    graph = grimp.build_graph(package, cache_dir=None)
    modules = strongly_connected(graph)
    packages = sibling_cycles(graph, package)
    for component in modules:
        print("modules in a cycle: " + " <-> ".join(component))
    for parent, imports in packages.items():
        edges = ", ".join(f"{a} -> {b}" for a, b in sorted(imports))
        print(f"sibling cycle under {parent}; breaking it needs removing: {edges}")
    if modules or packages:
        return 1
    print(f"no import cycles among the {len(graph.modules)} modules of {package}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
