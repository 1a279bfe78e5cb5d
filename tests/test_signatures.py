"""Build by keyword: no function of harness/ or strategies/ names more than 8 parameters. What a
longer list would carry goes into a value built by keyword (a GridRequest, a Cell, an
Execution); a click command with many options takes them as `**options`. `*args` and
`**kwargs` are not counted (a bag of like values, each named where it is passed: a strategy's
settings), nor a method's self. Dataclasses are not counted either: their generated __init__ is
keyword-built (`kw_only=True`) or short."""

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
MOST = 8


def parameters(function: ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda) -> int:
    """Its named parameters, but a method's self or cls."""
    args = function.args
    named = [*args.posonlyargs, *args.args, *args.kwonlyargs]
    bound = bool(named) and named[0].arg in ("self", "cls") \
        and not isinstance(function, ast.Lambda)
    return len(named) - bound


def too_long(source: str, where: str) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            count = parameters(node)
            if count > MOST:
                found.append(f"{where}:{node.lineno} {getattr(node, 'name', 'lambda')} "
                             f"takes {count} parameters")
    return found


def test_no_function_takes_more_than_8_parameters():
    found = []
    for folder in ("harness", "strategies"):
        for path in sorted((REPO / folder).rglob("*.py")):
            found += too_long(path.read_text(), str(path.relative_to(REPO)))
    assert not found, "\n".join(found)


def test_the_count_sees_every_kind_of_parameter():
    source = ("def nine(a, b, c, /, d, e, *args, f, g, h, i, **kwargs): pass\n"
              "class K:\n    def eight(self, a, b, c, d, e, f, g, h, *args, **kwargs): pass\n"
              "spread = lambda a, b, c, d, e, f, g, h, i: a\n")
    assert [line.split(" ", 1)[1] for line in too_long(source, "x")] == [
        "nine takes 9 parameters", "lambda takes 9 parameters"]
