"""schemathesis against docs/openapi.json, driving the local gateway (in-process WSGI) with a valid
token for each operation's audience.

Every operation gets a bounded number of generated requests, valid (positive) and invalid
(negative), with a fixed seed (`derandomize`): no response is a 5xx, and every response to a
valid request conforms to the document (status code, content type, body schema). Afterwards the
data invariants hold for the fuzzed customer: only categories a granted purpose justifies are
stored, and every stored field decrypts under its owner's key and binding only — not under
another customer's key, not as another field or store.
"""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import pytest
import schemathesis
from hypothesis import given
from schemathesis.checks import not_a_server_error
from schemathesis.generation import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from custody.crypto import cipher
from custody.crypto.keyring import get_keyring
from custody.declared import catalog, datamap
from custody.declared.errors import DecryptionFailed
from custody.declared.settings import Settings
from devstack.paths import REPO_ROOT
from tests.integration.conftest import LocalStack
from tests.integration.erasure.conftest import PROFILE, Customer
from tests.robustness.conftest import generated, scaled, settle
from tests.robustness.figures import FIGURES

DOCUMENT = REPO_ROOT / "docs" / "openapi.json"
# Operations that end the customer's custody run last, so the others fuzz a live customer.
LAST = {
    ("DELETE", "/v1/me/consents/{purpose}"),
    ("POST", "/v1/me/objections/{purpose}"),
    ("POST", "/v1/me/withdrawal"),
}


def _route(method: str, path: str) -> catalog.Route:
    for route in catalog.ROUTES:
        if (route.method, route.path) == (method, path):
            return route
    raise AssertionError(f"{method} {path} is in the OpenAPI document but not in the catalog")


class Tokens:
    def __init__(self, stack: LocalStack, customer: Customer) -> None:
        self.customer = customer.token
        self.staff = {group: stack.staff_token(f"fuzz-{group}@staff.example", group) for group in catalog.STAFF_GROUPS}
        self.processor = stack.processor_token("fuzz-processor")

    def for_route(self, route: catalog.Route) -> dict[str, str]:
        if route.audience is catalog.Audience.PUBLIC:
            return {}
        if route.audience is catalog.Audience.CUSTOMER:
            token = self.customer
        elif route.audience is catalog.Audience.PROCESSOR:
            token = self.processor
        else:
            token = self.staff[(route.groups or catalog.STAFF_GROUPS)[0]]
        return {"Authorization": f"Bearer {token}"}


def _fuzz_operation(operation: Any, headers: dict[str, str], mode: GenerationMode, examples: int) -> Counter[int]:
    statuses: Counter[int] = Counter()
    checks: list[Any] = [not_a_server_error]
    if mode is GenerationMode.POSITIVE:
        checks += [status_code_conformance, content_type_conformance, response_schema_conformance]

    @generated(examples)
    @given(case=operation.as_strategy(generation_mode=mode))
    def run(case: Any) -> None:
        response = case.call(headers=headers)
        statuses[response.status_code] += 1
        assert response.status_code < 500, f"{case.method} {case.path}: {response.status_code} {response.text[:300]}"
        if response.status_code >= 400:
            check_error(case, response.text)
        case.validate_response(response, checks=checks, headers=headers)

    run()
    return statuses


def _vocabulary() -> frozenset[str]:
    """Words an error may say although a caller sent them too: the document's names and values,
    the data map's names, the staff groups."""
    words: set[str] = {*datamap.PURPOSES, *catalog.STAFF_GROUPS}
    words |= {item.name for item in datamap.CATEGORIES} | {store.name for store in datamap.STORES}

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            words.update(str(key) for key in node)
            for key in ("enum", "const", "name", "title"):
                value = node.get(key)
                if isinstance(value, str):
                    words.add(value)
                elif isinstance(value, list):
                    words.update(str(item) for item in value)
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(json.loads(DOCUMENT.read_text()))
    return frozenset(words)


VOCABULARY = _vocabulary()


def _submitted(value: Any) -> list[str]:
    """Every string in a generated request part (keys and values, nested)."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [text for key, item in value.items() for text in (*_submitted(key), *_submitted(item))]
    if isinstance(value, list | tuple):
        return [text for item in value for text in _submitted(item)]
    return []


def check_error(case: Any, text: str) -> None:
    check_error_body(f"{case.method} {case.path}", _submitted([case.path_parameters, case.query, case.body]), text)


def check_error_body(where: str, sent: list[str], text: str) -> None:
    """Every refusal is `{"error", "message", "details"}` and says nothing the caller sent (issue 14):
    no value or key of the details is one of the strings `sent` (nor holds one of 12 or more
    characters), and neither does the message."""
    body = json.loads(text)
    assert isinstance(body, dict), text
    assert {"error", "message", "details"} <= set(body), f"{where}: {text[:200]}"
    said = _submitted(body["details"])
    echoed = [
        value
        for value in sent
        if value not in VOCABULARY
        and value.strip()
        and (value in said or (len(value) >= 12 and any(value in part for part in [*said, str(body["message"])])))
    ]
    FIGURES.add("error_bodies_checked")
    assert not echoed, f"{where} echoed {echoed!r} in {text[:300]}"


def _stored_profile(stack: LocalStack, subject_id: str) -> list[dict[str, Any]]:
    items = stack.clients("dynamodb").query(
        TableName=stack.resources.tables["profiles"],
        KeyConditionExpression="subject_id = :s",
        ExpressionAttributeValues={":s": {"S": subject_id}},
    )["Items"]
    from custody.stores import dynamo

    return [dynamo.from_item(item) for item in items]


def check_data_invariants(stack: LocalStack, owner: Customer, stranger: Customer, settings: Settings) -> int:
    """Only justified categories are stored; each field opens only as itself, under its owner's key."""
    report = owner.call("GET", "/v1/me").body
    granted = set(report["stores"]["consents"]["granted"])
    assert "crm_core" in granted, "the fuzzed customer is still a customer"
    unjustified = {category.name for category in datamap.unjustified_categories(frozenset(granted))}
    keyring = get_keyring()
    owner_key, stranger_key = keyring.get(owner.subject_id), keyring.get(stranger.subject_id)
    checked = 0
    for item in _stored_profile(stack, owner.subject_id):
        assert item["category"] not in unjustified, f"{item['category']} is stored without a purpose for it"
        for name, token in item["fields"].items():
            field = f"{item['category']}.{name}"  # custody.crypto.sealed binds the item key and the field name
            cipher.decrypt_json(owner_key, owner.subject_id, "profiles", field, token)
            wrong = [  # (key, subject, store, field): every binding but the owner's own
                (stranger_key, owner.subject_id, "profiles", field),
                (stranger_key, stranger.subject_id, "profiles", field),
                (owner_key, owner.subject_id, "profiles", field + "_other"),
                (owner_key, owner.subject_id, "documents", field),
                (owner_key, stranger.subject_id, "profiles", field),
            ]
            for key, subject, store, bound in wrong:
                with pytest.raises((DecryptionFailed, ValueError)):  # ValueError: a key of another subject
                    cipher.decrypt_json(key, subject, store, bound, token)
            checked += 1
    return checked


def test_generated_requests_never_5xx_conform_to_the_document_and_keep_the_data_invariants(
    local_stack: LocalStack, new_customer: Any, settings: Settings
) -> None:
    owner, stranger = new_customer(), new_customer()
    for person in (owner, stranger):
        for purpose in ("crm_core", "marketing"):
            assert (
                person.call("POST", "/v1/me/consents", {"purpose": purpose, "policy_version": "2026-11"}).status == 201
            )
        assert person.call("PUT", "/v1/me/profile", {"identity": PROFILE["identity"]}).status == 200
    tokens = Tokens(local_stack, owner)
    schema = schemathesis.openapi.from_dict(json.loads(DOCUMENT.read_text()))
    schema.app = local_stack.gateway
    operations = [result.ok() for result in schema.get_all_operations()]
    operations.sort(key=lambda operation: (operation.method.upper(), operation.path) in LAST)
    examples = scaled(2, 60)
    total: Counter[int] = Counter()
    invariants_checked = False
    for operation in operations:
        route = _route(operation.method.upper(), operation.path)
        if (route.method, route.path) in LAST and not invariants_checked:
            fields = check_data_invariants(local_stack, owner, stranger, settings)
            FIGURES.add("fields_decryption_checked", fields)
            invariants_checked = True
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            total.update(_fuzz_operation(operation, tokens.for_route(route), mode, examples))
    assert invariants_checked
    settle(local_stack)  # the fuzzed withdrawals' erasures finish before the next test
    assert {(operation.method.upper(), operation.path) for operation in operations} == {
        (route.method, route.path) for route in catalog.ROUTES
    }
    FIGURES.add("requests_fuzzed", sum(total.values()))
    FIGURES.detail("fuzz_statuses", {str(code): count for code, count in total.items()})
