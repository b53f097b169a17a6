"""One local stack per tier: a session fixture that starts a stack is declared in a conftest only.

A test module that imports `served_stack` or `local_stack` re-declares the fixture for itself: pytest
then starts a second stack for that module, which lives on beside the tier's for the rest of the
session. The in-process Lambda runtime has one AWS endpoint, so the pages of one stack then signed
their users up in the other's Cognito (issue 22's browser tier, caught in a merge).
"""

from __future__ import annotations

import ast
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]
STACK_FIXTURES = frozenset({"served_stack", "local_stack"})


def test_no_test_module_redeclares_a_stack_fixture() -> None:
    redeclared = []
    for module in sorted(TESTS.rglob("test_*.py")):
        for node in ast.walk(ast.parse(module.read_text())):
            if isinstance(node, ast.ImportFrom):
                names = {alias.asname or alias.name for alias in node.names} & STACK_FIXTURES
                redeclared += [f"{module.relative_to(TESTS)}: {name}" for name in sorted(names)]
    assert redeclared == [], "import the stack fixtures in a conftest.py only:\n" + "\n".join(redeclared)
