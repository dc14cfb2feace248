"""The three layers import only downwards and no module imports itself round a cycle (issue 12).

``firmware_bridge`` (sensors, files) and ``dsp`` (the pure core) never import ``tremorscope``
(the application); ``dsp`` imports neither of the others. Every import counts, also those
inside functions. The graph comes from grimp, which reads the source without importing it.
"""

from __future__ import annotations

import grimp
import pytest

PACKAGES = ("dsp", "firmware_bridge", "tremorscope")
#: (importer, imported) package pairs that must have no import chain.
FORBIDDEN = (("dsp", "firmware_bridge"), ("dsp", "tremorscope"), ("firmware_bridge", "tremorscope"))


def layer_violations(graph: grimp.ImportGraph) -> list[str]:
    """One line per forbidden package pair that an import chain connects, naming a chain."""
    out = []
    for importer, imported in FORBIDDEN:
        chains = graph.find_shortest_chains(importer=importer, imported=imported, as_packages=True)
        if chains:
            out.append(f"{importer} imports {imported}: " + " -> ".join(min(chains)))
    return out


def import_cycles(graph: grimp.ImportGraph) -> list[list[str]]:
    """The module sets that import each other round a cycle (strongly connected components, Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    cycles: list[list[str]] = []
    for root in sorted(graph.modules):
        if root in index:
            continue
        work = [(root, iter(sorted(graph.find_modules_directly_imported_by(root))))]
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
                    work.append((child, iter(sorted(graph.find_modules_directly_imported_by(child)))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    m = stack.pop()
                    on_stack.discard(m)
                    component.append(m)
                    if m == node:
                        break
                if len(component) > 1 or node in graph.find_modules_directly_imported_by(node):
                    cycles.append(sorted(component))
    return cycles


@pytest.fixture(scope="module")
def graph() -> grimp.ImportGraph:
    return grimp.build_graph(*PACKAGES, cache_dir=None)


def test_layers_import_only_downwards(graph):
    assert {"dsp.detector", "firmware_bridge.io.recording", "tremorscope.cli.group"} <= graph.modules
    assert layer_violations(graph) == []


def test_no_import_cycles(graph):
    assert import_cycles(graph) == []


def _toy_graph(*imports: tuple[str, str]) -> grimp.ImportGraph:
    g = grimp.ImportGraph()
    for module in {"dsp", "firmware_bridge", "tremorscope", *(m for pair in imports for m in pair)}:
        g.add_module(module)
    for importer, imported in imports:
        g.add_import(importer=importer, imported=imported)
    return g


def test_the_checks_find_what_they_look_for():
    """A layer break and a cycle in a small graph are found (so an empty answer means something)."""
    g = _toy_graph(
        ("tremorscope.a", "dsp.b"),  # allowed: downwards
        ("firmware_bridge.c", "dsp.b"),  # allowed
        ("dsp.b", "dsp.d"),
        ("dsp.d", "firmware_bridge.e"),  # not allowed: the core reaches the bridge
        ("tremorscope.f", "tremorscope.g"),
        ("tremorscope.g", "tremorscope.h"),
        ("tremorscope.h", "tremorscope.f"),  # a cycle of three
    )
    assert layer_violations(g) == ["dsp imports firmware_bridge: dsp.d -> firmware_bridge.e"]
    assert import_cycles(g) == [["tremorscope.f", "tremorscope.g", "tremorscope.h"]]
    assert layer_violations(_toy_graph(("tremorscope.a", "dsp.b"))) == []
