"""The modules of ``taco.reports``, and the grid, profile, path and code-dependency modules, import each
other without a cycle, and each imports on its own; training code imports no report module."""
from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "taco" / "reports"
MODULES = sorted(f"taco.reports.{path.stem}" for path in PACKAGE.glob("*.py") if path.stem != "__init__")
GRID_MODULES = ["taco.code_deps", "taco.experiments", "taco.paths", "taco.profiles"]
TRAINING_MODULES = ["taco.run_logs", "taco.tracking", "taco.train"]
"""Training code: the reports read what it writes (``taco.run_logs`` is shared), never the other way."""


def package_imports(module: str, modules: list[str]) -> set[str]:
    """The ``modules`` that ``module`` imports, at module level or inside functions."""
    tree = ast.parse(ROOT.joinpath(*module.split(".")).with_suffix(".py").read_text())
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found & set(modules)


def acyclic_import_graph(modules: list[str]) -> dict[str, set[str]]:
    """Module -> the ``modules`` it imports; fails naming the cycle if there is one."""
    graph = {module: package_imports(module, modules) for module in modules}
    done, path = set(), []

    def visit(module: str) -> None:
        if module in path:
            raise AssertionError("import cycle: " + " -> ".join(path[path.index(module):] + [module]))
        if module in done:
            return
        path.append(module)
        for imported in sorted(graph[module]):
            visit(imported)
        path.pop()
        done.add(module)

    for module in modules:
        visit(module)
    return graph


def test_no_import_cycle_among_report_modules():
    graph = acyclic_import_graph(MODULES)
    assert len(MODULES) > 5 and any(graph.values())


def test_grid_paths_profiles_and_code_deps_depend_one_way():
    # experiments <- paths (run ids, evaluation names) <- profiles; code_deps stands alone.
    assert acyclic_import_graph(GRID_MODULES) == {"taco.code_deps": set(), "taco.experiments": set(),
                                                  "taco.paths": {"taco.experiments"},
                                                  "taco.profiles": {"taco.experiments", "taco.paths"}}


def test_training_code_imports_no_report_module():
    code = ("import sys; " + "; ".join(f"import {module}" for module in TRAINING_MODULES) +
            "; print(sorted(m for m in sys.modules if m.startswith('taco.reports')))")
    loaded = subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT, capture_output=True, text=True)
    assert loaded.stdout.strip() == "[]"


@pytest.mark.parametrize("module", MODULES + GRID_MODULES + ["taco.run_logs"])
def test_each_module_imports_alone(module):
    subprocess.run([sys.executable, "-c", f"import {module}"], check=True, cwd=ROOT)
