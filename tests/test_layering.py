"""One-way layering of the package: every import statement (module level or inside a function) is read
from the source, so a lazy import counts as much as a top-level one.

Layers, lowest first: ``relion`` (RELION files) <- ``data`` <- ``model`` <- ``training`` / ``evaluation``
/ ``pipeline`` <- ``cli``. ``errors`` and ``timing`` are leaves anyone may use. What is installed
(``relion_cryodiscovery``, ``relion_external``) never imports the developer package ``cryodiscovery_dev``
(``dev/``, not in the wheel); its simulators (``cryodiscovery_dev.simulate``) use only the package's lowest
layers (``relion``, ``data``, ``errors``).
"""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PACKAGE = REPO / "relion_cryodiscovery"
ROOT = "relion_cryodiscovery"
#: The simulators, in the developer package.
SIMULATE = REPO / "dev" / "cryodiscovery_dev" / "simulate"

#: What each lower layer may import from the package (besides itself).
ALLOWED = {
    "relion": {"errors"},
    "data": {"errors", "relion"},
    "model": {"errors", "relion", "data"},
}


def _modules() -> dict[str, Path]:
    out = {}
    for path in PACKAGE.rglob("*.py"):
        parts = [ROOT, *path.relative_to(PACKAGE).with_suffix("").parts]
        out[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return out


def imported_names(path: Path) -> set[str]:
    """Every absolute module name ``path`` imports (``import a.b``, ``from a.b import c``), lazy imports too."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
            names.add(node.module)
    return names


def import_graph() -> dict[str, set[str]]:
    """Module -> the package modules it imports."""
    modules = _modules()
    graph: dict[str, set[str]] = defaultdict(set)
    for name, path in modules.items():
        base = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                module = node.module or ""
                if node.level:
                    prefix = ".".join(base[: len(base) - node.level + 1])
                    module = f"{prefix}.{module}" if module else prefix
                targets = [module] + [f"{module}.{alias.name}" for alias in node.names]
            else:
                continue
            for target in targets:
                while target and target not in modules:
                    target = target.rpartition(".")[0]
                if target and target != name:
                    graph[name].add(target)
    return graph


def layer(module: str) -> str:
    """``relion_cryodiscovery.data.masks`` -> ``data``; the root package -> ``""``."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one node (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for other in graph.get(node, ()):
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            component = []
            while True:
                other = stack.pop()
                component.append(other)
                if other == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in list(graph):
        if node not in index:
            visit(node)
    return found


@pytest.mark.parametrize("lower", sorted(ALLOWED))
def test_lower_layers_import_only_below_them(lower):
    wrong = sorted(f"{module} -> {target}" for module, targets in import_graph().items() if layer(module) == lower
                   for target in targets if layer(target) not in ALLOWED[lower] | {lower})
    assert not wrong


def test_no_cycles_between_subpackages():
    graph = import_graph()
    packages: dict[str, set[str]] = defaultdict(set)
    for module, targets in graph.items():
        for target in targets:
            if layer(module) and layer(target) and layer(module) != layer(target):
                packages[layer(module)].add(layer(target))
    assert cycles(packages) == []


@pytest.mark.parametrize("lower", ["relion", "data", "model", "training", "evaluation"])
def test_no_module_cycles_inside_a_layer(lower):
    graph = import_graph()
    inside = {m: {t for t in targets if layer(t) == lower} for m, targets in graph.items() if layer(m) == lower}
    assert cycles(inside) == []


def test_installed_code_never_imports_the_developer_package():
    installed = [*PACKAGE.rglob("*.py"), *(REPO / "relion_external").rglob("*.py")]
    wrong = sorted(f"{path.relative_to(REPO)} -> {name}" for path in installed for name in imported_names(path)
                   if name.split(".")[0] == "cryodiscovery_dev")
    assert len(installed) > 50 and not wrong


def test_simulators_use_only_the_lowest_layers():
    modules = list(SIMULATE.rglob("*.py"))
    used = {name.split(".")[1] for path in modules for name in imported_names(path)
            if name.startswith(f"{ROOT}.")}
    assert modules and used <= {"errors", "relion", "data"}, used


def test_simulators_not_in_the_installed_package():
    assert not (PACKAGE / "simulate").exists()
    assert (SIMULATE / "atomic_models" / "catalog.json").is_file()
