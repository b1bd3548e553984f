"""Dependencies point one way: no import cycle between the modules of `service`.

The graph counts every import that runs, also those inside functions: an import deferred into a
function still couples the two modules both ways, it only hides the cycle from Python. Imports
under TYPE_CHECKING never run and are left out: two GraphQL types that name each other
(`Brief.messages`, `Message.brief`) are one mutual reference in the schema itself, which
`strawberry.lazy` resolves by module name when the schema is built. A failure lists each cycle as its shortest chain, e.g.
`service.a.service -> service.b.service -> service.a.service`; break it by moving the shared
pure function down, or by letting the lower module be told through a small hook.

The layers (adapters on top, domains below, no domain reaching into the app's assembly) are
import-linter contracts in pyproject.toml, checked by `lint-imports` in `make lint`.
"""

from __future__ import annotations

import grimp
import pytest


def strongly_connected(edges: dict[str, set[str]]) -> list[set[str]]:
    """Tarjan's components of more than one module (iterative: the graph has hundreds)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[set[str]] = []
    for root in sorted(edges):
        if root in index:
            continue
        work = [(root, iter(sorted(edges[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(edges[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
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
                    found.append(component)
    return found


def cycles(graph: grimp.ImportGraph) -> list[tuple[str, ...]]:
    """One shortest cycle through each import that lies on a cycle, each listed once."""
    edges = {module: set(graph.find_modules_directly_imported_by(module)) for module in graph.modules}
    seen: set[tuple[str, ...]] = set()
    for component in strongly_connected(edges):
        for importer in sorted(component):
            for imported in sorted(edges[importer] & component):
                # imported -> ... -> importer, closed by the import importer -> imported
                loop = graph.find_shortest_chain(importer=imported, imported=importer)
                assert loop is not None  # same component: a way back exists
                start = loop.index(min(loop))  # the same cycle found from another edge
                seen.add(loop[start:] + loop[:start])
    return sorted(seen)


def test_the_service_package_has_no_import_cycle():
    graph = grimp.build_graph("service", cache_dir=None, exclude_type_checking_imports=True)
    found = cycles(graph)
    if found:
        listed = "\n".join(" -> ".join((*loop, loop[0])) for loop in found)
        pytest.fail(f"{len(found)} import cycles:\n{listed}", pytrace=False)


def test_the_cycle_finder_finds_a_cycle_deferred_into_a_function():
    graph = grimp.ImportGraph()
    for module in ("a", "a.low", "a.high", "a.side"):
        graph.add_module(module)
    graph.add_import(importer="a.high", imported="a.low", line_number=1, line_contents="import a.low")
    graph.add_import(importer="a.low", imported="a.high", line_number=9, line_contents="import a.high")
    graph.add_import(importer="a.side", imported="a.low", line_number=1, line_contents="import a.low")
    assert cycles(graph) == [("a.high", "a.low")]
