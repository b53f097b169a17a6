"""Any body, any route, never a 5xx (issue 17): generated from docs/openapi.json, sent through the
local gateway with a valid token for each operation's audience.

* Every body that cannot be decoded — an integer longer than 4,300 digits (which crashed every
  function with a 502), `NaN`, a repeated key, 5,000 levels of nesting, truncated JSON, bytes
  that are not UTF-8 — is a 400 `malformed_request`, on every operation that takes a body.
* Hypothesis draws bodies from each operation's own schema (its property names and examples,
  so that values reach the validators behind the schema) and swaps any part for arbitrary JSON:
  huge and tiny numbers, deep nesting, strings of every Unicode category, repeated keys. Every
  answer is a 2xx or a 4xx the document declares for the operation; a refusal is
  `{"error", "message", "details"}`, says nothing the request carried, and writes nothing (the
  customer's footprint in every store is unchanged).

Figures: `property_examples` (with the validators' own property tests) and `property_5xx` (must be 0).
"""

from __future__ import annotations

import json
import math
import uuid
from collections import Counter
from dataclasses import dataclass
from typing import Any, Final

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.integration.conftest import LocalStack
from tests.integration.erasure.conftest import Customer
from tests.robustness.conftest import customer_with_everything, footprint, generated, scaled
from tests.robustness.figures import FIGURES
from tests.robustness.test_fuzz import DOCUMENT, Tokens, _route, check_error_body

SPEC: Final = json.loads(DOCUMENT.read_text())
LONG_INTEGER: Final = "1" + "0" * 4300  # 4,301 digits: one past what Python converts (sys.get_int_max_str_digits)


@dataclass(frozen=True)
class Operation:
    method: str
    path: str
    schema: dict[str, Any]
    documented: frozenset[int]

    @property
    def name(self) -> str:
        return f"{self.method} {self.path}"


def _resolve(node: Any) -> Any:
    while isinstance(node, dict) and "$ref" in node:
        node = SPEC["components"]["schemas"][node["$ref"].rsplit("/", 1)[-1]]
    return node


def _operations() -> list[Operation]:
    """Every operation of the document that takes a JSON body."""
    found = []
    for path, methods in SPEC["paths"].items():
        for method, operation in methods.items():
            content = operation.get("requestBody", {}).get("content", {}) if isinstance(operation, dict) else {}
            if "application/json" in content:
                documented = frozenset(int(code) for code in operation["responses"] if code.isdigit())
                found.append(Operation(method.upper(), path, content["application/json"]["schema"], documented))
    return sorted(found, key=lambda operation: operation.name)


OPERATIONS: Final = _operations()

# --- JSON text, with what json.dumps cannot write: repeated keys, numbers of any length, NaN ---------


@dataclass(frozen=True)
class Raw:
    """JSON text written as it is (a number literal, `NaN`, an escaped lone surrogate)."""

    text: str


@dataclass(frozen=True)
class Pairs:
    """An object as its key-value pairs, in order, a key possibly twice."""

    items: tuple[tuple[str, Any], ...]


def dump(node: Any) -> str:
    if isinstance(node, Raw):
        return node.text
    if isinstance(node, Pairs):
        return "{" + ", ".join(f"{json.dumps(key)}: {dump(value)}" for key, value in node.items) + "}"
    if isinstance(node, list):
        return "[" + ", ".join(dump(item) for item in node) + "]"
    if isinstance(node, float) and not math.isfinite(node):
        return "1e999" if node > 0 else "-1e999"
    return json.dumps(node)


def strings_in(node: Any) -> list[str]:
    """Every string the body carries, keys included (for the echo check)."""
    if isinstance(node, str):
        return [node]
    if isinstance(node, Pairs):
        return [text for key, value in node.items for text in (key, *strings_in(value))]
    if isinstance(node, list):
        return [text for item in node for text in strings_in(item)]
    return []


NUMBERS: Final = (
    st.integers()
    | st.floats(allow_nan=False)
    | st.sampled_from([0, -0.0, 5e-324, 1.7976931348623157e308, 2**53 + 1, -(2**63)])
    | st.builds(lambda digits: Raw("9" * digits), st.integers(17, 4400))
    | st.sampled_from([Raw("1e999999"), Raw("-1e-999999"), Raw(LONG_INTEGER), Raw("NaN"), Raw("-Infinity")])
)
TEXT: Final = (
    st.text(max_size=40)
    | st.text(st.characters(codec="utf-8"), min_size=1, max_size=12)
    | st.sampled_from(
        [
            "",
            " ",
            "\u0000",
            "\u202e",
            "\ufeff",
            "\u2028",
            "\u0664\u0661\u0665",
            "\uff16\uff12\uff17\uff10\uff11",
            "a\u0301",
            "\U0001f600",
        ]
    )
    | st.just(Raw('"\\ud800"'))
)
ANY_JSON: Final = st.recursive(
    st.none() | st.booleans() | NUMBERS | TEXT,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.lists(st.tuples(st.text(max_size=6) | st.sampled_from(["a", "a", "phone"]), inner), max_size=4).map(
            lambda items: Pairs(tuple(items))
        )
    ),
    max_leaves=12,
)
DEEP: Final = st.integers(900, 5000).map(lambda depth: Raw("[" * depth + "]" * depth))


def from_schema(schema: Any, depth: int = 0) -> st.SearchStrategy[Any]:
    """Bodies shaped by the schema (its property names, its enums and examples), any part of which
    may be swapped for arbitrary JSON."""
    node = _resolve(schema)
    arbitrary = ANY_JSON if depth < 4 else st.none()
    if not isinstance(node, dict):
        return arbitrary
    for combined in ("anyOf", "oneOf", "allOf"):
        if combined in node:
            return st.one_of([from_schema(option, depth) for option in node[combined]]) | arbitrary
    known = [*node.get("enum", []), *node.get("examples", [])]
    kind = node.get("type")
    if kind == "object" and "properties" in node:
        properties = node["properties"]
        required = list(node.get("required", []))

        @st.composite
        def objects(draw: st.DrawFn) -> Pairs:
            names = required + draw(st.lists(st.sampled_from(sorted(properties)), max_size=len(properties)))
            extra = draw(st.lists(st.tuples(st.text(max_size=6), ANY_JSON), max_size=1))
            items = [(name, draw(from_schema(properties[name], depth + 1))) for name in dict.fromkeys(names)]
            return Pairs(tuple(items + extra))

        return objects() | arbitrary
    if kind == "array":
        return st.lists(from_schema(node.get("items", {}), depth + 1), max_size=3) | arbitrary
    if kind == "string":
        return (st.sampled_from(known) if known else TEXT) | TEXT | arbitrary
    if kind in ("integer", "number"):
        return (st.sampled_from(known) if known else NUMBERS) | NUMBERS | arbitrary
    return (st.sampled_from(known) if known else arbitrary) | arbitrary


# --- the requests --------------------------------------------------------------------------------


class Sender:
    """Sends bodies to an operation as the route's caller, the fuzzed customer's footprint checked around each."""

    def __init__(self, stack: LocalStack, owner: Customer) -> None:
        self.stack, self.owner = stack, owner
        self.tokens = Tokens(stack, owner)
        self.known: Any = None

    def path(self, operation: Operation) -> str:
        values = {"customer_id": self.owner.subject_id, "processor_id": "fuzz-processor"}
        path = operation.path
        for name in [part[1:-1] for part in path.split("/") if part.startswith("{")]:
            path = path.replace(f"{{{name}}}", values.get(name, str(uuid.uuid4())))
        return path

    def send(self, operation: Operation, body: bytes | str) -> tuple[int, str, bool]:
        """(status, body, whether the customer's footprint changed)."""
        before = self.known if self.known is not None else footprint(self.stack, self.owner.subject_id)
        headers = {
            "Content-Type": "application/json",
            **self.tokens.for_route(_route(operation.method, operation.path)),
        }
        response = self.stack.http.open(self.path(operation), method=operation.method, data=body, headers=headers)
        status, text = response.status_code, response.get_data(as_text=True)
        self.stack.wait_for_async(120)  # what the request set going (an export) is its own effect, not the next's
        after = footprint(self.stack, self.owner.subject_id)
        self.known = after
        return status, text, after != before


@pytest.fixture(scope="module")
def sender(local_stack: LocalStack) -> Sender:
    return Sender(local_stack, customer_with_everything(local_stack, "any-body"))


def test_the_document_has_the_operations_that_take_a_body() -> None:
    FIGURES.add("property_5xx", 0)  # reported as 0 when none was seen
    assert len(OPERATIONS) >= 12
    assert {"PUT /v1/me/profile", "PATCH /v1/me/profile", "POST /v1/me/consents", "POST /v1/me/change-requests"} <= {
        operation.name for operation in OPERATIONS
    }


def _undecodable(operation: Operation) -> dict[str, bytes | str]:
    field = sorted(_resolve(operation.schema).get("properties", {"a": None}))[0]
    return {
        "integer of 4,301 digits": LONG_INTEGER,
        "integer of 4,301 digits in a field": f'{{"{field}": {LONG_INTEGER}}}',
        "NaN": f'{{"{field}": NaN}}',
        "Infinity": "Infinity",
        "repeated key": f'{{"{field}": 1, "{field}": 1}}',
        "nested 5,000 deep": "[" * 5000 + "]" * 5000,
        "truncated": f'{{"{field}": ',
        "not UTF-8": b'{"\xff\xfe": 1}',
    }


@pytest.mark.parametrize("operation", OPERATIONS, ids=lambda operation: operation.name)
def test_every_body_that_cannot_be_decoded_is_a_400_on_every_operation(sender: Sender, operation: Operation) -> None:
    for kind, body in _undecodable(operation).items():
        status, text, changed = sender.send(operation, body)
        if status >= 500:
            FIGURES.add("property_5xx")
        assert status == 400, f"{operation.name}, {kind}: {status} {text[:200]}"
        assert json.loads(text)["error"] == "malformed_request", f"{operation.name}, {kind}: {text[:200]}"
        check_error_body(f"{operation.name}, {kind}", [], text)
        assert not changed, f"{operation.name}, {kind}: refused but written"
        FIGURES.add("bad_inputs")


@pytest.mark.parametrize("operation", OPERATIONS, ids=lambda operation: operation.name)
def test_any_body_is_a_documented_answer_never_a_5xx_and_a_refusal_writes_nothing(
    sender: Sender, operation: Operation
) -> None:
    statuses: Counter[str] = Counter()

    @generated(scaled(10, 150))
    @given(body=from_schema(operation.schema) | DEEP)
    def run(body: Any) -> None:
        FIGURES.add("property_examples")
        status, text, changed = sender.send(operation, dump(body))
        statuses[str(status)] += 1
        if status >= 500:
            FIGURES.add("property_5xx")
        assert status < 500, f"{operation.name}: {status} {text[:300]}"
        assert status in operation.documented or status < 300, f"{operation.name}: {status} is not documented"
        if status >= 400:
            check_error_body(operation.name, strings_in(body), text)
            assert not changed, f"{operation.name}: refused with {status} but written"

    run()
    FIGURES.detail("property_statuses", statuses)


WIDE: Final = 20_000  # fields in one body: unbounded, their refusal was 1.4 MB (at 100,000, over Lambda's 6 MB: a 502)
MAX_ERROR_BODY: Final = 16_384


@pytest.mark.parametrize("operation", OPERATIONS, ids=lambda operation: operation.name)
def test_a_refusal_is_bounded_however_many_fields_are_wrong(sender: Sender, operation: Operation) -> None:
    """An error body does not grow with the request: undeclared keys, and the schema's own fields
    each given a wrong value, are named at most `MAX_FIELD_ERRORS` times and counted beyond."""
    properties = sorted(_resolve(operation.schema).get("properties", {}))
    bodies = {
        "undeclared keys": {f"k{index}": index for index in range(WIDE)},
        "nested undeclared keys": {name: {f"k{index}": index for index in range(WIDE)} for name in properties[:1]},
        "lists of wrong values": {name: [{"x": index} for index in range(WIDE)] for name in properties},
    }
    for kind, body in bodies.items():
        status, text, changed = sender.send(operation, json.dumps(body))
        if status >= 500:
            FIGURES.add("property_5xx")
        assert 400 <= status < 500, f"{operation.name}, {kind}: {status} {text[:200]}"
        assert len(text) <= MAX_ERROR_BODY, f"{operation.name}, {kind}: a {len(text)}-byte error body"
        assert not changed, f"{operation.name}, {kind}: refused but written"
        FIGURES.add("bad_inputs")


def _operations_without_a_body() -> list[Operation]:
    found = []
    for path, methods in SPEC["paths"].items():
        for method, operation in methods.items():
            if isinstance(operation, dict) and method != "head" and "requestBody" not in operation:
                documented = frozenset(int(code) for code in operation["responses"] if code.isdigit())
                found.append(Operation(method.upper(), path, {}, documented))
    return sorted(found, key=lambda operation: operation.name)


WITHOUT_A_BODY: Final = [operation for operation in _operations_without_a_body() if operation.path.startswith("/v1/")]


def test_the_document_has_operations_without_a_body() -> None:
    assert {"POST /v1/me/withdrawal", "GET /v1/me", "DELETE /v1/me/consents/{purpose}"} <= {
        operation.name for operation in WITHOUT_A_BODY
    }


@pytest.mark.parametrize("operation", WITHOUT_A_BODY, ids=lambda operation: operation.name)
def test_a_body_sent_to_an_operation_that_takes_none_is_a_400_and_changes_nothing(
    sender: Sender, operation: Operation
) -> None:
    """Never ignored: `{"confirm": false}` to POST /v1/me/withdrawal started the erasure (found by a fresh break)."""
    for body in ('{"confirm": false}', "{not json", "null"):
        status, text, changed = sender.send(operation, body)
        if status >= 500:
            FIGURES.add("property_5xx")
        assert 400 <= status < 500, f"{operation.name} with {body!r}: {status} {text[:200]}"
        if status == 400:
            assert json.loads(text)["error"] == "malformed_request", text[:200]
        assert not changed, f"{operation.name} with {body!r}: refused but written"
        FIGURES.add("bad_inputs")
    if operation.name != "POST /v1/me/withdrawal":
        status, text, _ = sender.send(operation, "{}")
        assert not (status == 400 and json.loads(text)["error"] == "malformed_request"), (
            f"{operation.name}: an empty object, which many clients send, is refused"
        )
