"""Source files a command executes, declared as workflow inputs so that code changes rerun jobs:
the ``taco`` modules a command imports, found from the sources (lazy imports included)."""
from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent


def _module_file(module: str) -> Path | None:
    parts = module.split(".")
    if parts[0] != PACKAGE_DIR.name:
        return None
    base = PACKAGE_DIR.joinpath(*parts[1:])
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _module_name(path: Path) -> str:
    relative = path.relative_to(PACKAGE_DIR.parent).with_suffix("")
    parts = list(relative.parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports_of(node: ast.Import | ast.ImportFrom, package: str) -> Iterator[str]:
    """Names an import statement may load as modules (``from a import b`` loads a, and a.b if a module)."""
    if isinstance(node, ast.Import):
        yield from (alias.name for alias in node.names)
        return
    if node.level:
        anchor = package.split(".")[:len(package.split(".")) - node.level + 1]
        base = ".".join(anchor + ([node.module] if node.module else []))
    else:
        base = node.module or ""
    yield base
    yield from (f"{base}.{alias.name}" for alias in node.names)


def _imported_modules(path: Path) -> Iterator[str]:
    """Every module ``path`` imports, at any depth of its code (lazy imports included)."""
    package = _module_name(path) if path.name == "__init__.py" else _module_name(path).rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            yield from _imports_of(node, package)


def code_dependencies(*modules: str) -> list[str]:
    """Package source files (relative to the repository) that running ``modules`` executes: the
    modules, everything they import transitively and the ``__init__.py`` of every package on the way."""
    pending, seen = [], set()
    for module in modules:
        path = _module_file(module)
        if path is None:
            raise ValueError(f"module '{module}' is not a module of the {PACKAGE_DIR.name} package")
        pending.append(path)
    while pending:
        path = pending.pop()
        if path in seen:
            continue
        seen.add(path)
        parents = _module_name(path).split(".")
        for depth in range(1, len(parents)):
            init = _module_file(".".join(parents[:depth]))
            if init is not None and init not in seen:
                pending.append(init)
        pending.extend(p for p in map(_module_file, _imported_modules(path)) if p is not None and p not in seen)
    return sorted(str(p.relative_to(PACKAGE_DIR.parent)) for p in seen)


def cli_dependencies(*modules: str) -> list[str]:
    """Source files of ``python -m taco <command>``: the CLI itself plus the command's ``modules``.
    The CLI imports each command's modules lazily, so only the module-level imports of cli.py count."""
    entry_points = [_module_file("taco.__main__"), _module_file("taco.cli")]
    top_level = [module for node in ast.parse(entry_points[1].read_text()).body
                 if isinstance(node, (ast.Import, ast.ImportFrom))
                 for module in _imports_of(node, _module_name(entry_points[1]).rpartition(".")[0])]
    package_modules = [m for m in top_level if _module_file(m) is not None]
    files = set(code_dependencies(*package_modules, *modules))
    files.update(str(p.relative_to(PACKAGE_DIR.parent)) for p in entry_points)
    return sorted(files)
