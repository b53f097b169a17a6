"""The library's rooms and who may use whom, read from the source (docs/architecture.md, "Rooms").

A room is a subpackage of `custody` with one concern. Rooms are layered: a module imports its own
room and the rooms below it, never one above, so a change to erasure cannot break the data map and
there is no import cycle to untangle. Storage is reached through one room: only `custody.stores`
calls DynamoDB, S3 or Cognito, and every table and bucket the data map declares has one
repository there that owns its key layout. (That the deployed functions never import the local
stack or the operator's tools is `tests/unit/test_package_boundaries.py`.)

These rules are checked on the import graph of the source, so a new module, room or table is held
to them without editing this file; a new room must be placed in `LAYERS` first.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import pytest

from custody.declared import datamap, naming

FUNCTIONS = Path(__file__).resolve().parents[2] / "functions"
LIBRARY = FUNCTIONS / "custody"

# Lowest first; rooms on one line are peers and may not import each other.
LAYERS: tuple[tuple[str, ...], ...] = (
    ("declared",),  # the data map, the catalog, naming, settings, errors, the clock, the workflow's steps
    ("platform",),  # AWS clients, retries, idempotency, logs and metrics
    ("stores",),  # one repository per table and bucket; the only room that calls storage
    ("crypto", "audit"),  # envelope encryption and crypto-shredding; the ledger
    ("notices",),  # templated notices to customers (SES); an erasure's sealed notice address
    ("deadlines",),  # the requests register: due dates, the one extension, answers
    ("access_control",),  # who is calling and what they may do
    ("subprocessors",),  # agreements, disclosures, task tokens, acknowledgements
    ("erasure",),  # the plan, the starter, the steps
    ("customers", "retention"),  # what a data subject does; the retention sweep
    ("staff_access", "oversight"),  # grants, views, reviews; what auditors review through the API
    ("api",),  # the HTTP entrypoint every API function shares
)
LAYER_OF = {room: depth for depth, rooms in enumerate(LAYERS) for room in rooms}

# Storage services: only `custody.stores` calls them (`platform.idempotency` hands Powertools its
# client for the idempotency table: Powertools writes and reads the records there, and the table's
# repository, `stores.idempotency_records`, only finds and deletes a customer's records for erasure).
STORAGE_CLIENTS = frozenset({"dynamodb", "s3", "cognito_idp"})


@dataclass(frozen=True)
class Module:
    name: str
    path: Path
    tree: ast.Module

    @property
    def room(self) -> str | None:
        parts = self.name.split(".")
        return parts[1] if parts[0] == "custody" and len(parts) > 2 else None

    def runtime_imports(self) -> set[str]:
        """Modules imported when this one is (imports under `if TYPE_CHECKING:` are not)."""
        typing_only = {
            id(inner)
            for node in ast.walk(self.tree)
            if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)
            for inner in ast.walk(node)
        }
        package = self.name.split(".")[:-1] if self.path.name != "__init__.py" else self.name.split(".")
        found: set[str] = set()
        for node in ast.walk(self.tree):
            if id(node) in typing_only:
                continue
            if isinstance(node, ast.Import):
                found.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    anchor = package[: len(package) - node.level + 1]
                    base = ".".join([*anchor, base] if base else anchor)
                found.add(base)
                found.update(f"{base}.{alias.name}" for alias in node.names)
        return found


def _modules() -> dict[str, Module]:
    modules = {}
    for path in sorted(FUNCTIONS.rglob("*.py")):
        parts = path.relative_to(FUNCTIONS).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        modules[name] = Module(name, path, ast.parse(path.read_text(encoding="utf-8"), filename=str(path)))
    return modules


MODULES = _modules()
LIBRARY_MODULES = {name: module for name, module in MODULES.items() if module.room is not None}


def _known(imported: str) -> str | None:
    """The library module an import names (`custody.x.y.Class` is module `custody.x.y`)."""
    while imported:
        if imported in MODULES:
            return imported
        imported = imported.rpartition(".")[0]
    return None


def test_every_room_is_placed_in_a_layer() -> None:
    rooms = {path.name for path in LIBRARY.iterdir() if (path / "__init__.py").exists()}
    assert rooms == set(LAYER_OF), "place a new room in LAYERS (and in docs/architecture.md, Rooms)"


@pytest.mark.parametrize("name", sorted(LIBRARY_MODULES))
def test_a_module_imports_only_its_room_and_the_rooms_below(name: str) -> None:
    module = LIBRARY_MODULES[name]
    assert module.room is not None
    upward = sorted(
        imported
        for imported in module.runtime_imports()
        if (target := _known(imported)) is not None
        and (room := MODULES[target].room) is not None
        and room != module.room
        and LAYER_OF[room] >= LAYER_OF[module.room]
    )
    assert not upward, f"{name} ({module.room}) reaches a room at or above its own: {upward}"


def test_the_library_has_no_import_cycle() -> None:
    graph: dict[str, set[str]] = defaultdict(set)
    for name, module in MODULES.items():
        for imported in module.runtime_imports():
            target = _known(imported)
            if target is not None and target != name and not name.startswith(f"{target}."):
                graph[name].add(target)
    visiting: list[str] = []
    done: set[str] = set()

    def visit(node: str) -> None:
        if node in done:
            return
        assert node not in visiting, f"import cycle: {' -> '.join([*visiting[visiting.index(node) :], node])}"
        visiting.append(node)
        for successor in sorted(graph[node]):
            visit(successor)
        visiting.pop()
        done.add(node)

    for name in sorted(MODULES):
        visit(name)


def _storage_calls(module: Module) -> list[str]:
    """`clients.<storage>()` calls in the module, as `line: call`."""
    return [
        f"{node.lineno}: clients.{node.func.attr}()"
        for node in ast.walk(module.tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr in STORAGE_CLIENTS
        and isinstance(node.func.value, ast.Name)
        and node.func.value.id == "clients"
    ]


def test_only_the_stores_room_calls_storage() -> None:
    outside = {
        name: calls
        for name, module in MODULES.items()
        if module.room not in ("stores", None) and name != "custody.platform.idempotency"
        if (calls := _storage_calls(module))
    }
    assert not outside, f"storage reached outside custody.stores: {outside}"
    handlers = {
        name: calls for name, module in MODULES.items() if module.room is None if (calls := _storage_calls(module))
    }
    assert not handlers, f"a handler calls storage itself: {handlers}"


def _declared_name(value: ast.expr) -> str | None:
    """The logical name a `TABLE`/`BUCKET` constant holds: a literal, or a `naming.X` constant."""
    if isinstance(value, ast.Constant) and isinstance(value.value, str):
        return value.value
    if isinstance(value, ast.Attribute) and isinstance(value.value, ast.Name) and value.value.id == "naming":
        return str(getattr(naming, value.attr))
    return None


def _owners() -> dict[str, list[str]]:
    """Logical store name -> the stores modules that declare it theirs (module-level `TABLE`/`BUCKET`)."""
    owners: dict[str, list[str]] = defaultdict(list)
    for name, module in LIBRARY_MODULES.items():
        if module.room != "stores":
            continue
        for node in module.tree.body:
            if isinstance(node, ast.AnnAssign) and node.value is not None:
                target, value = node.target, node.value
            elif isinstance(node, ast.Assign) and len(node.targets) == 1:
                target, value = node.targets[0], node.value
            else:
                continue
            if isinstance(target, ast.Name) and target.id in ("TABLE", "BUCKET"):
                declared = _declared_name(value)
                assert declared is not None, f"{name}: {target.id} must be a literal or a naming constant"
                owners[declared].append(name)
    return owners


OWNERS = _owners()
# Declared stores that only the data map's generic walkers reach (the erasure's `TablePartition` and
# `BucketPrefix`, the access report): nothing writes them yet.
WITHOUT_A_WRITER: dict[str, str] = {}
DECLARED_STORES = sorted(
    {store.name for store in datamap.STORES} | set(datamap.OPERATIONAL_TABLES) | {naming.AUDIT_BUCKET}
)


@pytest.mark.parametrize("store", DECLARED_STORES)
def test_every_declared_table_and_bucket_has_one_repository(store: str) -> None:
    if store == "idempotency":
        # Two hands, one each: Powertools writes and reads the records (custody.platform.idempotency),
        # the repository finds and deletes a customer's records for erasure, and nothing else does either.
        assert OWNERS.get(store) == ["custody.stores.idempotency_records"], OWNERS.get(store)
        assert "DynamoDBPersistenceLayer" in ast.unparse(LIBRARY_MODULES["custody.platform.idempotency"].tree)
        writers = [name for name, module in MODULES.items() if "DynamoDBPersistenceLayer" in ast.unparse(module.tree)]
        assert writers == ["custody.platform.idempotency"], writers
    elif store in WITHOUT_A_WRITER:
        assert not OWNERS.get(store), f"{store} has a repository now: drop it from WITHOUT_A_WRITER"
    else:
        assert len(OWNERS.get(store, [])) == 1, f"{store}: repositories {OWNERS.get(store, [])} (want exactly one)"


def test_no_repository_owns_an_undeclared_store() -> None:
    assert set(OWNERS) <= set(DECLARED_STORES), sorted(set(OWNERS) - set(DECLARED_STORES))
