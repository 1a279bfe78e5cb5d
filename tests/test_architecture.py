"""Imports in harness/ and strategies/ run one way (docs/architecture.md). This file fails on an
import cycle, on an import of another module's `_private` name, on an import against the
direction of the packages, and on a function-level first-party import that neither saves
start-up time nor waits for an optional dependency. The graph is read with `ast` (nothing is
imported), lazy imports included.

    pytest -q tests/test_architecture.py     # the checks
    python tests/test_architecture.py        # the report: direction, lazy imports and why
"""

from __future__ import annotations

import ast
import sys
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FIRST_PARTY = ("harness", "strategies")

# The direction, top to bottom: a module imports its own package and packages of the layers
# below its own, never one beside it or above. harness/*.py (errors, paths, environment,
# _compat) count as the package `harness`. docs/architecture.md repeats this order.
LAYERS = (
    ("harness.cli",),
    ("harness.recommend",),
    ("harness.report", "harness.projection"),
    ("harness.execution",),
    ("harness.cell",),
    ("harness.plan",),
    ("harness.results", "strategies"),
    ("harness.metrics",),
    ("harness.api",),
    ("harness.inputs",),
    ("harness",),
)
# harness finds strategies only through the registry (entry points), as it finds a third
# party's; importing one by name is an exception with its reason.
PLUGINS = "strategies"
EXCEPTIONS = {
    ("harness.projection", "strategies"):
        "`harness project` builds LoRA and QLoRA models with those strategies' own code "
        "(add_lora, quantization settings), so the projection measures what the strategy runs",
}

# Third-party packages that take 0.1 s or more to import (python -X importtime, 2026-12-05:
# torch 1.3, sklearn 1.0, transformers 0.8, datasets 0.7, pandas 0.3, joblib 0.2, scipy 0.1),
# and those that a strategy or a report pulls in whole. Deferring one shortens start-up.
HEAVY = ("torch", "transformers", "peft", "accelerate", "datasets", "bitsandbytes", "gguf",
         "sklearn", "scipy", "pandas", "numpy", "joblib", "matplotlib", "seaborn", "vllm", "ray",
         "lm_eval")
# Installed only with an extra (pyproject's optional-dependencies): imported lazily or not at all.
OPTIONAL = ("ray", "vllm", "lm_eval")
# Function-level first-party imports when the packages by stage landed (commit 41407e7).
LAZY_BEFORE = 120


@dataclass(frozen=True)
class Import:
    importer: str
    target: str  # a first-party module
    name: str | None  # the name taken from it (`from target import name`); None: the module
    line: int
    lazy: bool  # inside a function: runs when called, not when the importer is imported
    type_only: bool = False  # under `if TYPE_CHECKING:`: never runs (its direction still counts)


@lru_cache(maxsize=1)
def modules() -> dict[str, Path]:
    found = {}
    for top in FIRST_PARTY:
        for path in sorted((ROOT / top).rglob("*.py")):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


@lru_cache(maxsize=None)
def tree(module: str) -> ast.Module:
    return ast.parse(modules()[module].read_text(), str(modules()[module]))


def _in_functions(module: str) -> set[int]:
    return {id(node) for function in ast.walk(tree(module))
            if isinstance(function, (ast.FunctionDef, ast.AsyncFunctionDef))
            for node in ast.walk(function)}


def _type_checking_only(module: str) -> set[int]:
    """Nodes under `if TYPE_CHECKING:` (for type checkers and editors; never executed)."""
    return {id(node) for block in ast.walk(tree(module))
            if isinstance(block, ast.If) and "TYPE_CHECKING" in ast.unparse(block.test)
            for statement in block.body for node in ast.walk(statement)}


def _absolute(module: str, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    package = module.split(".")
    if modules()[module].name != "__init__.py":
        package = package[:-1]
    package = package[:len(package) - node.level + 1]
    return ".".join(package + ([node.module] if node.module else []))


def _targets(module: str, node) -> list[tuple[str, str | None]]:
    """(first-party module, name taken from it) for each name an import statement binds."""
    if isinstance(node, ast.Import):
        return [(alias.name, None) for alias in node.names if alias.name in modules()]
    base = _absolute(module, node)
    found = []
    for alias in node.names:
        if f"{base}.{alias.name}" in modules():
            found.append((f"{base}.{alias.name}", None))
        elif base in modules():
            found.append((base, alias.name))
    return found


@lru_cache(maxsize=None)
def imports(module: str) -> tuple[Import, ...]:
    """Every first-party module a module imports, one Import per name bound."""
    lazy, type_only = _in_functions(module), _type_checking_only(module)
    statements = [node for node in ast.walk(tree(module))
                  if isinstance(node, (ast.Import, ast.ImportFrom))]
    return tuple(Import(module, target, name, node.lineno, id(node) in lazy,
                        id(node) in type_only)
                 for node in statements for target, name in _targets(module, node))


def all_imports() -> list[Import]:
    return [one for module in modules() for one in imports(module)]


def package(module: str) -> str:
    """The unit of the direction: harness.<package>, strategies, or harness for its own files."""
    parts = module.split(".")
    if parts[0] == "harness" and len(parts) > 1 and (ROOT / "harness" / parts[1]).is_dir():
        return ".".join(parts[:2])
    return parts[0]


def layer(unit: str) -> int:
    return next(index for index, units in enumerate(LAYERS) if unit in units)


def cycles() -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan), each a cycle or more."""
    edges = {m: sorted({i.target for i in imports(m) if i.target != m and not i.type_only})
             for m in modules()}
    index, low, stack, on_stack, found = {}, {}, [], set(), []

    def visit(node):
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for other in edges[node]:
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in on_stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            component = []
            while not component or component[-1] != node:
                component.append(stack.pop())
                on_stack.discard(component[-1])
            if len(component) > 1:
                found.append(sorted(component))

    for node in modules():
        if node not in index:
            visit(node)
    return found


def _private(name: str) -> bool:
    return name.startswith("_") and not name.endswith("__")


def _bound_modules(module: str) -> dict[str, str]:
    """Local names bound to first-party modules (`import a.b as m`, `from a import b`)."""
    bound = {}
    for node in ast.walk(tree(module)):
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            for alias in node.names:
                single = node.__class__(**{**node.__dict__, "names": [alias]})
                for target, name in _targets(module, single):
                    if name is None and (alias.asname or isinstance(node, ast.ImportFrom)):
                        bound[alias.asname or alias.name] = target
    return bound


def private_uses() -> dict[str, int]:
    """`from m import _name`, `m._name` on an imported module, or a `_module` imported from
    outside its own package (each a name its owner may change without warning): what, at which
    line of the user."""
    found = {}
    for module in modules():
        for one in imports(module):
            if one.name and _private(one.name) and one.target != module:
                found[f"{module} takes {one.name} from {one.target}"] = one.line
            owner, last = one.target.rsplit(".", 1)
            if _private(last) and not f"{module}.".startswith(f"{owner}."):
                found[f"{module} imports the private module {one.target}"] = one.line
        bound = _bound_modules(module)
        for node in ast.walk(tree(module)):
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) \
                    and node.value.id in bound and _private(node.attr):
                found[f"{module} uses {bound[node.value.id]}.{node.attr}"] = node.lineno
    return found


def against_direction() -> list[str]:
    found = []
    for one in all_imports():
        source, target = package(one.importer), package(one.target)
        if source == target or (source, target) in EXCEPTIONS:
            continue
        backwards = layer(source) >= layer(target)
        if backwards or (target == PLUGINS and source != PLUGINS):
            found.append(f"{one.importer}:{one.line} ({source}) imports {one.target} ({target})")
    return found


@lru_cache(maxsize=None)
def third_party_at_top(module: str) -> frozenset[str]:
    """Top-level names of the third-party packages a module imports outside functions."""
    lazy = _in_functions(module) | _type_checking_only(module)
    names = set()
    for node in ast.walk(tree(module)):
        if isinstance(node, ast.Import) and id(node) not in lazy:
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and id(node) not in lazy and not node.level:
            names.add((node.module or "").split(".")[0])
    return frozenset(n for n in names if n and n not in FIRST_PARTY
                     and n not in sys.stdlib_module_names and n != "__future__")


@lru_cache(maxsize=None)
def loads(module: str) -> frozenset[str]:
    """The heavy packages importing `module` loads: through its top-level imports, theirs,
    and the `__init__` of every package above each."""
    seen, pending, heavy = set(), [module], set()
    while pending:
        name = pending.pop()
        if name in seen or name not in modules():
            continue
        seen.add(name)
        heavy |= third_party_at_top(name) & set(HEAVY)
        pending += [".".join(name.split(".")[:end]) for end in range(1, name.count(".") + 1)]
        pending += [one.target for one in imports(name) if not (one.lazy or one.type_only)]
    return frozenset(heavy)


def why_lazy(one: Import) -> str | None:
    """The reason a function-level import may stay there, or None: what it defers that the
    importer does not load already."""
    deferred = loads(one.target) - loads(one.importer)
    if deferred & set(OPTIONAL):
        return f"optional dependency: {', '.join(sorted(deferred & set(OPTIONAL)))}"
    if deferred:
        return f"start-up time: defers {', '.join(sorted(deferred))}"
    return None


def lazy_statements() -> dict[tuple[str, int], list[Import]]:
    """Function-level import statements of first-party modules, by (importer, line)."""
    found: dict[tuple[str, int], list[Import]] = {}
    for one in all_imports():
        if one.lazy:
            found.setdefault((one.importer, one.line), []).append(one)
    return found


def unjustified_lazy() -> set[tuple[str, str]]:
    return {(one.importer, one.target) for ones in lazy_statements().values() for one in ones
            if why_lazy(one) is None}


def lazy_report() -> str:
    statements = lazy_statements()
    lines = [f"function-level first-party imports: {LAZY_BEFORE} before (41407e7), "
             f"{len(statements)} now"]
    for (importer, line), ones in sorted(statements.items()):
        reasons = sorted({why_lazy(one) or "no reason: hoist to module top" for one in ones})
        targets = ", ".join(sorted({one.target for one in ones}))
        lines.append(f"  {importer}:{line} -> {targets}: {'; '.join(reasons)}")
    return "\n".join(lines)


def direction_text() -> str:
    """The direction as docs/architecture.md writes it: `cli -> recommend -> report | ...`."""
    def short(unit):
        return "harness/*.py" if unit == "harness" else unit.removeprefix("harness.")
    return " -> ".join(" | ".join(map(short, units)) for units in LAYERS)


def test_every_package_has_a_place_in_the_direction():
    units = {package(module) for module in modules()}
    placed = [unit for units in LAYERS for unit in units]
    assert sorted(units) == sorted(placed), "a new package needs a layer in LAYERS"


def test_no_import_cycle():
    found = cycles()
    assert not found, "import cycles:\n" + "\n".join(" <-> ".join(c) for c in found)


def test_no_module_imports_another_modules_private_name():
    found = private_uses()
    assert not found, "\n".join(f"{what} (line {line})" for what, line in found.items())


def test_imports_run_one_way():
    found = against_direction()
    assert not found, f"against {direction_text()}:\n" + "\n".join(found)


def test_a_function_level_import_saves_start_up_or_waits_for_an_optional_dependency():
    print("\n" + lazy_report())
    found = sorted(unjustified_lazy())
    assert not found, ("import at module top (a function-level import must defer a heavy or "
                       "optional package the importer does not load):\n"
                       + "\n".join(f"  {importer} -> {target}" for importer, target in found))


def test_the_architecture_doc_states_the_direction_this_file_checks():
    doc = (ROOT / "docs" / "architecture.md").read_text()
    assert direction_text() in doc
    for (source, target), reason in EXCEPTIONS.items():
        assert f"{source} -> {target}" in doc


def test_the_checks_can_fail(monkeypatch):
    """The checks see a cycle, a private name, a backward import and a needless lazy one."""
    fake = {"harness.api.a": "from harness.cell import b\nfrom harness.api.c import _x\n",
            "harness.cell.b": "import strategies.s\n\ndef f():\n    from harness.api import a\n"
                              "    from harness.api import heavy\n",
            "harness.api.c": "_x = 1\n", "harness.api.heavy": "import torch\n",
            "strategies.s": ""}
    monkeypatch.setattr(sys.modules[__name__], "modules",
                        lambda: {name: Path(name.replace(".", "/") + ".py") for name in fake})
    parsed = {name: ast.parse(source) for name, source in fake.items()}
    monkeypatch.setattr(sys.modules[__name__], "tree", parsed.__getitem__)
    for cached in (imports, loads, third_party_at_top):
        cached.cache_clear()
    try:
        assert cycles() == [["harness.api.a", "harness.cell.b"]]
        assert private_uses() == {"harness.api.a takes _x from harness.api.c": 2}
        assert sorted(against_direction()) == [
            "harness.api.a:1 (harness.api) imports harness.cell.b (harness.cell)",
            "harness.cell.b:1 (harness.cell) imports strategies.s (strategies)"]
        assert unjustified_lazy() == {("harness.cell.b", "harness.api.a")}
        assert "start-up time: defers torch" in lazy_report()
    finally:
        for cached in (imports, loads, third_party_at_top):
            cached.cache_clear()


if __name__ == "__main__":
    print(f"direction: {direction_text()}")
    print(f"cycles: {cycles() or 'none'}")
    print(f"private names: {private_uses() or 'none'}")
    print(f"against the direction: {against_direction() or 'none'}")
    print(lazy_report())
