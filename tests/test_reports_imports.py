"""The modules of ``taco.reports`` import each other without a cycle, and each imports on its own."""
from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "taco" / "reports"
MODULES = sorted(f"taco.reports.{path.stem}" for path in PACKAGE.glob("*.py") if path.stem != "__init__")


def package_imports(module: str) -> set[str]:
    """The ``taco.reports`` modules that ``module`` imports, at module level or inside functions."""
    tree = ast.parse((PACKAGE / f"{module.rpartition('.')[2]}.py").read_text())
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found & set(MODULES)


def test_no_import_cycle_among_report_modules():
    graph = {module: package_imports(module) for module in MODULES}
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

    assert len(MODULES) > 5 and any(graph.values())
    for module in MODULES:
        visit(module)


@pytest.mark.parametrize("module", MODULES)
def test_each_module_imports_alone(module):
    subprocess.run([sys.executable, "-c", f"import {module}"], check=True, cwd=PACKAGE.parents[1])
