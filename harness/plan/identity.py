"""What a cell's numbers depend on besides its data and config: the code that computes them and
the versions of the packages that code runs on. Part of every cell's key, so a change to any of
them recomputes exactly the cells it can change.

    code_identity(registry.entries()["zero-shot"], strategy_class)
    # {"distribution": "adapt-harness", "version": "0.1.0", "sources_sha": "…",
    #  "packages": {"torch": "2.13.0", "transformers": "…", …}}
"""

from __future__ import annotations

import ast
import hashlib
import importlib.util
import sys
from functools import lru_cache
from importlib import metadata
from pathlib import Path

from harness.inputs.kinds import KINDS

# Modules of this distribution that compute or measure a cell's numbers, whatever the strategy.
MEASURING = ("harness.cell.runner", "harness.cell.measure", "harness.metrics.classification", "harness.inputs.data",
             "harness.api.strategy", "harness.inputs.tasks", "harness.inputs.models")
# Modules that only plan, store, price or present results: a change to them moves no number,
# so they are not followed when collecting a strategy's sources.
NOT_COMPUTING = ("harness.cli.main", "harness.report", "harness.results.cost", "harness.results.store",
                 "harness.plan.grid", "harness.api.registry", "harness.environment", "harness.plan.identity",
                 "harness.errors", "harness.api.testing", "harness.api.settings", "harness.api.backends",
                 "harness.execution.settings", "harness.execution.driver", "harness.execution.executors",
                 "harness.execution.progress", "harness.api.resources")
# Libraries that compute on behalf of one the code imports, without being imported by name.
COMPUTES_FOR = {"transformers": ("tokenizers", "safetensors", "accelerate", "bitsandbytes",
                                 "gguf")}


def code_identity(distribution: str, strategy_class: type) -> dict:
    """The strategy's distribution and version; a hash of every first-party source file of the
    strategy that can change its numbers, and one of the harness code that measures every
    strategy; the versions of the third-party packages all those files import."""
    harness = _closure(measuring_modules())
    own = {name: path for name, path in _closure((strategy_class.__module__,)).items()
           if name not in harness}
    imported: set[str] = set()
    for path in [*harness.values(), *own.values()]:
        imported |= _third_party(path.read_bytes())
    return {"distribution": distribution, "version": _version(distribution),
            "sources_sha": _sources_sha(own), "harness_sha": _sources_sha(harness),
            "packages": package_versions(imported)}


def measuring_modules() -> tuple[str, ...]:
    """MEASURING, and the modules where each task kind measures a cell and builds its records:
    its Kind names them by reference (harness.inputs.kinds), so no import leads there."""
    by_kinds = [module for kind in KINDS.values() for module in kind.modules("measure",
                                                                              "records")]
    return tuple(dict.fromkeys((*MEASURING, *by_kinds)))


def _sources_sha(modules: dict[str, Path]) -> str:
    digest = hashlib.sha256()
    for name in sorted(modules):
        digest.update(name.encode() + b"\0" + _code(modules[name].read_bytes()) + b"\0")
    return digest.hexdigest()[:16]


def _code(source: bytes) -> bytes:
    """What of a source file can change a number: its syntax tree without docstrings, so that
    comments, docstrings and layout (documentation, `harness list settings`) recompute nothing."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return source
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) \
                and node.body and isinstance(node.body[0], ast.Expr) \
                and isinstance(node.body[0].value, ast.Constant) \
                and isinstance(node.body[0].value.value, str):
            node.body = node.body[1:] or [ast.Pass()]
    return ast.dump(tree).encode()


def package_versions(top_level_modules: set[str]) -> dict[str, str | None]:
    names = set()
    for module in top_level_modules:
        names |= set(_distributions().get(module, ()))
    for name in list(names):
        names |= set(COMPUTES_FOR.get(name, ()))
    return {name: _version(name) for name in sorted(names)}


def _closure(roots) -> dict[str, Path]:
    """Every module reachable by imports from `roots` within their own top-level packages and
    this distribution's, but not through the modules that compute nothing."""
    first_party = {root.split(".")[0] for root in roots} | {"harness", "strategies"}
    found: dict[str, Path] = {}
    pending = list(roots)
    while pending:
        name = pending.pop()
        if name in found or name.startswith(NOT_COMPUTING) and name not in roots:
            continue
        path = _source(name)
        if path is None:
            continue
        found[name] = path
        for imported in _imports(path.read_bytes(), name):
            if imported.split(".")[0] in first_party:
                pending.append(imported)
    return found


def _source(module: str) -> Path | None:
    """The file of a module, found without importing it (importing would run package code)."""
    top, *rest = module.split(".")
    root = _package_root(top)
    if root is None:
        return None
    if root.is_file():  # a top-level module, not a package
        return root if not rest else None
    base = root.joinpath(*rest)
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


@lru_cache(maxsize=None)
def _package_root(top: str) -> Path | None:
    try:
        spec = importlib.util.find_spec(top)
    except (ImportError, ValueError):
        return None
    if spec is None:
        return None
    if spec.submodule_search_locations:
        return Path(list(spec.submodule_search_locations)[0])
    return Path(spec.origin) if spec.origin and spec.origin.endswith(".py") else None


def _imports(source: bytes, module: str) -> set[str]:
    """Absolute names of the modules a source file imports, lazy imports inside functions too."""
    names = set()
    package = module.rsplit(".", 1)[0] if "." in module else module
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package.split(".")[:len(package.split(".")) - node.level + 1]
                                + ([base] if base else []))
            names.add(base)
            names |= {f"{base}.{alias.name}" for alias in node.names}
    return {n for n in names if n}


def _third_party(source: bytes) -> set[str]:
    tops = {name.split(".")[0] for name in _imports(source, "")}
    return {t for t in tops if t not in sys.stdlib_module_names
            and t not in ("harness", "strategies", "__future__")}


@lru_cache(maxsize=1)
def _distributions() -> dict[str, list[str]]:
    return metadata.packages_distributions()


def _version(distribution: str) -> str | None:
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return None
