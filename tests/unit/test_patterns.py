"""Every pattern matches the whole value, and only the whole value (issue 14).

`re.match(r"^x$", "x\\n")` matches: Python's `$` also matches before a trailing newline. A file
name `"scan.pdf\\n"` was accepted that way and later broke a download header. So:

* Python regular expressions are used with `fullmatch` and carry no `$` (found by reading the
  code: every `re.compile`/`re.match`/`re.search` literal, and every `.match`/`.search` call on a
  module-level compiled pattern);
* the patterns pydantic validates (`Field`, `Path`, `Query`: `pattern=`) refuse a value that
  matches them followed by a newline — checked on an example Hypothesis draws from each pattern.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path
from typing import Annotated

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import Field, TypeAdapter, ValidationError

ROOT = Path(__file__).resolve().parents[2]
SOURCES = sorted(path for package in ("functions", "ops", "devstack") for path in (ROOT / package).rglob("*.py"))
_UNESCAPED_DOLLAR = re.compile(r"(?<!\\)\$")
ARABIC_INDIC = str.maketrans("0123456789", "".join(chr(0x0660 + digit) for digit in range(10)))


def _trees() -> list[tuple[Path, ast.Module]]:
    return [(path, ast.parse(path.read_text(), str(path))) for path in SOURCES]


def _constants(tree: ast.Module) -> dict[str, str]:
    """Module-level `NAME = "literal"` (and `NAME: Final = "literal"`)."""
    found: dict[str, str] = {}
    for node in tree.body:
        target, value = None, None
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            target, value = node.targets[0], node.value
        elif isinstance(node, ast.AnnAssign):
            target, value = node.target, node.value
        if isinstance(target, ast.Name) and isinstance(value, ast.Constant) and isinstance(value.value, str):
            found[target.id] = value.value
    return found


def _is_re_call(node: ast.Call, names: tuple[str, ...]) -> bool:
    func = node.func
    return isinstance(func, ast.Attribute) and func.attr in names and getattr(func.value, "id", None) == "re"


def _python_patterns() -> list[tuple[str, str]]:
    found = []
    for path, tree in _trees():
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and _is_re_call(node, ("compile", "match", "search", "fullmatch")):
                first = node.args[0] if node.args else None
                if isinstance(first, ast.Constant) and isinstance(first.value, str):
                    found.append((f"{path.relative_to(ROOT)}:{node.lineno}", first.value))
    return found


def _pydantic_patterns() -> list[tuple[str, str]]:
    found = []
    for path, tree in _trees():
        constants = _constants(tree)
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            for keyword in node.keywords:
                if keyword.arg != "pattern":
                    continue
                value = keyword.value
                if isinstance(value, ast.Constant) and isinstance(value.value, str):
                    found.append((f"{path.relative_to(ROOT)}:{node.lineno}", value.value))
                elif isinstance(value, ast.Name) and value.id in constants:
                    found.append((f"{path.relative_to(ROOT)}:{node.lineno}", constants[value.id]))
    return found


def test_python_patterns_have_no_dollar_anchor() -> None:
    anchored = [where for where, pattern in _python_patterns() if _UNESCAPED_DOLLAR.search(pattern)]
    assert not anchored, f"use fullmatch and drop `$`: {anchored}"


def _compiled(tree: ast.Module) -> dict[str, str]:
    """Module-level `NAME = re.compile("literal")`: name -> pattern."""
    found = {}
    for node in tree.body:
        target = node.targets[0] if isinstance(node, ast.Assign) else getattr(node, "target", None)
        value = getattr(node, "value", None)
        if (
            isinstance(target, ast.Name)
            and isinstance(value, ast.Call)
            and _is_re_call(value, ("compile",))
            and value.args
            and isinstance(value.args[0], ast.Constant)
        ):
            found[target.id] = str(value.args[0].value)
    return found


def test_compiled_patterns_are_used_with_fullmatch() -> None:
    """`match` never (it anchors the start only); `search` only to find something anywhere (no anchor)."""
    offenders = []
    for path, tree in _trees():
        compiled = _compiled(tree)
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            func = node.func
            where = f"{path.relative_to(ROOT)}:{node.lineno}"
            if _is_re_call(node, ("match",)):
                offenders.append(f"{where} re.match")
            if not (isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name)):
                continue
            pattern = compiled.get(func.value.id)
            if pattern is None:
                continue
            if func.attr == "match" or (func.attr == "search" and re.search(r"(?<!\\)[$^]", pattern)):
                offenders.append(f"{where} {func.value.id}.{func.attr}")
    assert not offenders, offenders


def test_the_scan_finds_the_patterns() -> None:
    """The two scans are not vacuous: they see the code's patterns."""
    assert len(_python_patterns()) >= 10
    assert len(_pydantic_patterns()) >= 10


@pytest.mark.parametrize(("where", "pattern"), _pydantic_patterns(), ids=lambda value: str(value)[:40])
@settings(max_examples=5, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_validated_patterns_refuse_a_trailing_newline(where: str, pattern: str, data: st.DataObject) -> None:
    adapter: TypeAdapter[str] = TypeAdapter(Annotated[str, Field(pattern=pattern)])
    example = data.draw(st.from_regex(pattern, fullmatch=True).filter(lambda text: "\n" not in text))
    adapter.validate_python(example)
    with pytest.raises(ValidationError):
        adapter.validate_python(example + "\n")


@pytest.mark.parametrize(("where", "pattern"), _pydantic_patterns(), ids=lambda value: str(value)[:40])
@settings(max_examples=5, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_validated_patterns_take_ascii_digits_only(where: str, pattern: str, data: st.DataObject) -> None:
    """Issue 17: Rust's `\\d`, which pydantic's patterns use, is any script's digit, as Python's is
    without `re.ASCII`; a value that fits a pattern must not with any one of its digits in Arabic-Indic."""
    adapter: TypeAdapter[str] = TypeAdapter(Annotated[str, Field(pattern=pattern)])
    ascii_example = st.from_regex(pattern, fullmatch=True, alphabet=st.characters(codec="ascii"))
    example = data.draw(ascii_example.filter(lambda text: any(char in "0123456789" for char in text)))
    adapter.validate_python(example)
    for index in (index for index, char in enumerate(example) if char in "0123456789"):
        with pytest.raises(ValidationError):
            adapter.validate_python(example[:index] + example[index].translate(ARABIC_INDIC) + example[index + 1 :])
