"""What a cell's numbers depend on besides its data and config: the code that computes them and
the versions of the packages that code runs on. Part of every cell's key, so a change to any of
them recomputes exactly the cells it can change.

    code_identity(registry.entries()["zero-shot"].package, strategy_class)
    # {"distribution": "adapt-harness", "version": "0.1.0", "sources_sha": "…",
    #  "harness_sha": "…", "packages": {"torch": "2.13.0", "transformers": "…", …}}

Which harness code can change a number is decided by package, not by a list of modules: every
module under a COMPUTING package counts (`harness_sha`), wherever it is imported from, and no
module elsewhere in harness/ does; a new module is counted or not by where it lives. The
strategy's own code (`sources_sha`) is its module and what that imports within its own top-level
package and `strategies`, not followed into harness (counted by package already).

harness.api is counted whole although registry, settings_doc and testing compute nothing: a
module counted needlessly costs a recomputation when it changes, a module missed costs wrong
numbers kept, and api holds the Strategy base whose defaults every strategy runs on. The other
packages only plan, run, store, price or present numbers computed elsewhere: what the plan
decides (config, rows, seeds, device, model) is in the key itself, the executor is deliberately
not, and prices apply at report time. harness/*.py (errors, paths, environment, _compat) is
plumbing and not counted: the device is in the key, the cache folders hold content-addressed
files. tests/test_identity.py checks that every package of harness is one or the other.
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

# Packages whose code can change a cell's numbers: it loads inputs, runs and measures the
# strategy (through the api it implements), and computes the metrics.
COMPUTING = ("harness.api", "harness.cell", "harness.inputs", "harness.metrics")
# Packages that plan, run, store, price or present a cell's numbers without changing them.
NOT_COMPUTING = ("harness.cli", "harness.execution", "harness.plan", "harness.projection",
                 "harness.recommend", "harness.report", "harness.results")
# Libraries that compute on behalf of one the code imports, without being imported by name.
COMPUTES_FOR = {"transformers": ("tokenizers", "safetensors", "accelerate", "bitsandbytes",
                                 "gguf")}


def code_identity(distribution: str, strategy_class: type) -> dict:
    """The strategy's distribution and version; a hash of the strategy's own source files, and
    one of the harness packages that compute (COMPUTING) for every strategy, with the modules
    where a task kind from outside harness measures; the versions of the third-party packages
    all those files import."""
    harness = {**computing_modules(), **kind_modules()}
    own = {name: path for name, path in _closure(strategy_class.__module__).items()
           if name not in harness}
    imported: set[str] = set()
    for path in [*harness.values(), *own.values()]:
        imported |= _third_party(path.read_bytes())
    return {"distribution": distribution, "version": _version(distribution),
            "sources_sha": _sources_sha(own), "harness_sha": _sources_sha(harness),
            "packages": package_versions(imported)}


def kind_modules() -> dict[str, Path]:
    """Where a task kind registered from outside harness (a plugin's) measures a cell and builds
    its records, with what those modules import: its Kind names them by reference
    (harness.inputs.kinds), so no import leads there. The built-in kinds' live in harness.cell."""
    found: dict[str, Path] = {}
    for kind in KINDS.values():
        for module in kind.modules("measure", "records"):
            if module.split(".")[0] != "harness":
                found.update(_closure(module))
    return found


def _sources_sha(modules: dict[str, Path]) -> str:
    digest = hashlib.sha256()
    for name in sorted(modules):
        digest.update(name.encode() + b"\0" + _code(modules[name].read_bytes()) + b"\0")
    return digest.hexdigest()[:16]


def _code(source: bytes) -> bytes:
    """What of a source file can change a number: its syntax tree without docstrings and
    without the text of settings' help (`field(metadata={"help": "..."})`), so that comments,
    docstrings, help and layout (documentation, `harness list settings`) recompute nothing."""
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
        elif isinstance(node, ast.Dict):
            node.values = [ast.Constant("") if isinstance(key, ast.Constant)
                           and key.value == "help" else value
                           for key, value in zip(node.keys, node.values)]
    return ast.dump(tree).encode()


def package_versions(top_level_modules: set[str]) -> dict[str, str | None]:
    names = set()
    for module in top_level_modules:
        names |= set(_distributions().get(module, ()))
    for name in list(names):
        names |= set(COMPUTES_FOR.get(name, ()))
    return {name: _version(name) for name in sorted(names)}


def computing_modules() -> dict[str, Path]:
    """Every module under the COMPUTING packages, by name, with its file."""
    found = {}
    for package in COMPUTING:
        folder = _source(package)
        if folder is None:
            continue
        for path in sorted(folder.parent.rglob("*.py")):
            parts = path.relative_to(folder.parent).with_suffix("").parts
            if parts[-1] == "__init__":
                parts = parts[:-1]
            found[".".join((package, *parts))] = path
    return found


def _closure(root: str) -> dict[str, Path]:
    """`root` and every module reachable by imports from it within its own top-level package
    and `strategies`: harness is counted by package, not followed."""
    followed = {root.split(".")[0], "strategies"} - {"harness"}
    found: dict[str, Path] = {}
    pending = [root]
    while pending:
        name = pending.pop()
        if name in found:
            continue
        path = _source(name)
        if path is None:
            continue
        found[name] = path
        for imported in _imports(path.read_bytes(), name):
            if imported.split(".")[0] in followed:
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
