"""User errors are exceptions with messages, never ``assert`` (which ``python -O`` removes)."""

import ast
from pathlib import Path

import matrixslow as ms

ENGINE = Path(ms.__file__).parent


def test_the_engine_has_no_assert_statements():
    found = []
    for path in sorted(ENGINE.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, ast.Assert):
                found.append(f"{path.relative_to(ENGINE)}:{node.lineno}")
    assert not found, f"assert statements in the engine: {found}"
