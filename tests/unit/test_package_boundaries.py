"""Which top-level package may import which, read from the code (AST), not from what happens to run.

* `functions/` is deployed to Lambda: it imports neither `devstack` (the local emulator) nor `ops`
  (the operator's tools);
* `ops` acts on real AWS with the caller's credentials: it never imports `devstack`, and nothing
  the `custody` console script imports, through any module of this repository, is the emulator
  (a `devstack` module, moto or werkzeug);
* `devstack` imports `ops` only where `DEVSTACK_USES_OPS` says why;
* devstack's commands join `custody` through the `custody.commands` entry point group.

Every import counts: at module level or inside a function, under `TYPE_CHECKING` or not, and
`importlib.import_module("…")` / `__import__("…")` with a literal name.
"""

from __future__ import annotations

import ast
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Final

import pytest

ROOT: Final = Path(__file__).resolve().parents[2]
FUNCTIONS: Final = ROOT / "functions"
EMULATOR: Final = ("devstack", "moto", "werkzeug")

# module of devstack -> the ops package it may import, and why.
DEVSTACK_USES_OPS: Final = {
    "devstack.journey": ("ops.auditor", "the journey's last step shows what an auditor sees, with the auditor's tools"),
    "devstack.preflight.command": (
        "ops.failures",
        "preflight is a `custody` command: what stops it is ops' OperatorError, one line and exit 2",
    ),
}


@dataclass(frozen=True)
class Import:
    module: str  # the importing module, e.g. ops.commands.audit
    path: Path
    line: int
    target: str  # what it imports, e.g. custody.declared.settings

    def __str__(self) -> str:
        return f"{self.path.relative_to(ROOT)}:{self.line} imports {self.target}"


def _root_of(module: str) -> Path:
    return FUNCTIONS if (FUNCTIONS / module.split(".")[0]).is_dir() else ROOT


def module_path(module: str) -> Path | None:
    """The file of an in-repository module (a package's `__init__.py`), or None for anything else."""
    base = _root_of(module).joinpath(*module.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def modules_of(package_dir: Path, root: Path) -> dict[str, Path]:
    """Every module under `package_dir`, by dotted name relative to `root`."""
    found = {}
    for path in sorted(package_dir.rglob("*.py")):
        parts = path.relative_to(root).with_suffix("").parts
        found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


@cache
def imports_of(module: str, path: Path) -> tuple[Import, ...]:
    tree = ast.parse(path.read_text(), str(path))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = []
    for node in ast.walk(tree):
        for target in _targets(node, package):
            found.append(Import(module, path, getattr(node, "lineno", 0), target))
    return tuple(found)


def _targets(node: ast.AST, package: str) -> Iterator[str]:
    if isinstance(node, ast.Import):
        yield from (alias.name for alias in node.names)
    elif isinstance(node, ast.ImportFrom):
        base = node.module or ""
        if node.level:
            anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
            base = ".".join([*anchor, *([base] if base else [])])
        yield base
        # `from package import name` may import the submodule package.name
        yield from (f"{base}.{alias.name}" for alias in node.names if module_path(f"{base}.{alias.name}"))
    elif (
        isinstance(node, ast.Call)
        and getattr(node.func, "attr", getattr(node.func, "id", None)) in ("import_module", "__import__")
        and node.args
        and isinstance(node.args[0], ast.Constant)
        and isinstance(node.args[0].value, str)
    ):
        yield node.args[0].value


def _within(target: str, package: str) -> bool:
    return target == package or target.startswith(f"{package}.")


def _imports_in(package_dir: Path, root: Path) -> list[Import]:
    return [found for name, path in modules_of(package_dir, root).items() for found in imports_of(name, path)]


def _pyproject() -> dict[str, object]:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def test_the_scan_reads_each_package() -> None:
    """Not vacuous: the packages exist and their imports are seen."""
    for package_dir, root, least in (
        (ROOT / "ops", ROOT, 10),
        (ROOT / "devstack", ROOT, 20),
        (FUNCTIONS, FUNCTIONS, 40),
    ):
        assert len(modules_of(package_dir, root)) >= least, f"{package_dir.relative_to(ROOT)}: too few modules"
        assert len(_imports_in(package_dir, root)) >= 3 * least


def test_the_deployed_functions_import_neither_devstack_nor_ops() -> None:
    offenders = [
        str(found)
        for found in _imports_in(FUNCTIONS, FUNCTIONS)
        if _within(found.target, "devstack") or _within(found.target, "ops")
    ]
    assert not offenders, offenders


def test_ops_never_imports_devstack() -> None:
    offenders = [str(found) for found in _imports_in(ROOT / "ops", ROOT) if _within(found.target, "devstack")]
    assert not offenders, offenders


def test_devstack_imports_ops_only_where_it_must() -> None:
    offenders = [
        str(found)
        for found in _imports_in(ROOT / "devstack", ROOT)
        if _within(found.target, "ops")
        and not (found.module in DEVSTACK_USES_OPS and _within(found.target, DEVSTACK_USES_OPS[found.module][0]))
    ]
    assert not offenders, offenders


def test_the_custody_command_reaches_no_emulator() -> None:
    """From the console script's module, through every module of this repository it imports."""
    project = _pyproject()["project"]
    assert isinstance(project, dict)
    entry = str(project["scripts"]["custody"]).split(":")[0]
    seen: set[str] = set()
    pending, reached = [entry], []
    while pending:
        module = pending.pop()
        if module in seen:
            continue
        seen.add(module)
        path = module_path(module)
        if path is None:
            continue
        if module.split(".")[0] == "devstack":
            reached.append(f"{module} (the command's own module)" if module == entry else module)
        for found in imports_of(module, path):
            if any(_within(found.target, package) for package in EMULATOR):
                reached.append(str(found))
            parts = found.target.split(".")
            pending.extend(".".join(parts[:length]) for length in range(1, len(parts) + 1))
    assert len(seen) > 20, "the walk did not get far: is the console script's module found?"
    assert not reached, reached


def test_devstack_joins_custody_through_the_entry_point_group() -> None:
    project = _pyproject()["project"]
    assert isinstance(project, dict)
    plugins = project.get("entry-points", {}).get("custody.commands", {})
    assert plugins == {"devstack": "devstack.commands"}
    path = module_path("devstack.commands")
    assert path is not None
    defined = {node.name for node in ast.parse(path.read_text()).body if isinstance(node, ast.FunctionDef)}
    assert {"add_commands", "configure_logging"} <= defined


@pytest.mark.parametrize(
    ("source", "package", "expected"),
    [
        ("import a.b.c", "x", ["a.b.c"]),
        ("from a import b, c", "x", ["a", "a.b"]),  # a.b is a module, a.c a name
        ("from . import b", "a", ["a", "a.b"]),
        ("from .. import b", "a.c", ["a", "a.b"]),
        ("from ..b import thing", "a.c", ["a.b"]),
        ("importlib.import_module('a.b')", "x", ["a.b"]),
        ("__import__('a')", "x", ["a"]),
        ("def f():\n    if TYPE_CHECKING:\n        import a.b", "x", ["a.b"]),
    ],
)
def test_the_reader_sees_every_form_of_import(
    source: str, package: str, expected: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    known = {"a", "a.b"}
    monkeypatch.setitem(globals(), "module_path", lambda module: ROOT / module if module in known else None)
    tree = ast.parse(source)
    assert [target for node in ast.walk(tree) for target in _targets(node, package)] == expected
