"""Staff and sub-processors on the in-process stack: real tokens (staff with MFA, processor
machine identities) through the local gateway."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from typing import Any

import pytest

from custody.declared import datamap, naming
from devstack import identity
from devstack.auth import render_claims
from tests.integration.conftest import LocalStack
from tests.integration.erasure.conftest import Customer, Reply, customer, new_customer

__all__ = ["customer", "new_customer"]


claims_of = identity.unverified_claims


@dataclass
class Caller:
    stack: LocalStack
    token: str

    @property
    def sub(self) -> str:
        return str(claims_of(self.token)["sub"])

    @property
    def gateway_claims(self) -> dict[str, str]:
        """The claims API Gateway's authorizer passes for this caller's token."""
        return render_claims(claims_of(self.token))

    def invoke(self, method: str, path: str, body: Any = None) -> Reply:
        """The route's function invoked directly with this caller's claims: no gateway in front."""
        return Reply.of_proxy(self.stack.invoke(method, path, self.gateway_claims, body))

    def call(self, method: str, path: str, body: Any = None) -> Reply:
        response = self.stack.http.open(
            path,
            method=method,
            data=None if body is None else json.dumps(body),
            headers={"Authorization": f"Bearer {self.token}", "Content-Type": "application/json"},
        )
        return Reply.of(response)


@pytest.fixture
def staff(local_stack: LocalStack) -> Any:
    def make(group: str) -> Caller:
        return Caller(local_stack, local_stack.staff_token(f"{group}-{uuid.uuid4().hex[:8]}@staff.example", group))

    return make


@pytest.fixture
def processor(local_stack: LocalStack) -> Any:
    def make(processor_id: str) -> Caller:
        return Caller(local_stack, local_stack.processor_token(processor_id))

    return make


def consented(make: Any, *purposes: str, profile: dict[str, Any] | None = None) -> Customer:
    made: Customer = make()
    for purpose in purposes:
        assert made.call("POST", "/v1/me/consents", {"purpose": purpose, "policy_version": "2026-11"}).status == 201
    if profile:
        assert made.call("PUT", "/v1/me/profile", profile).status == 200
    return made


def audit_events(stack: LocalStack, subject_id: str) -> list[dict[str, Any]]:
    s3 = stack.clients("s3")
    bucket = stack.resources.buckets[naming.AUDIT_BUCKET]
    listed = s3.list_objects_v2(Bucket=bucket, Prefix=f"ledger/subject/{subject_id}/").get("Contents", [])
    return [json.loads(s3.get_object(Bucket=bucket, Key=item["Key"])["Body"].read()) for item in listed]


def is_refusal(event: dict[str, Any]) -> bool:
    """A refused-access event: custody.api.http's (by route) or a staff module's (by step)."""
    return event["step"] == "access_refused" or event["outcome"] == "refused"


def footprint(stack: LocalStack, subject_id: str) -> dict[str, Any]:
    """Everything the stores and the subject record hold for a customer (to show nothing was written)."""
    dynamodb = stack.clients("dynamodb")
    found: dict[str, Any] = {}
    for store in datamap.table_stores():
        items = dynamodb.query(
            TableName=stack.resources.tables[store.name],
            KeyConditionExpression="#pk = :s",
            ExpressionAttributeNames={"#pk": store.partition_key},
            ExpressionAttributeValues={":s": {"S": subject_id}},
        )["Items"]
        found[store.name] = sorted(json.dumps(item, sort_keys=True, default=repr) for item in items)
    subject = dynamodb.get_item(TableName=stack.resources.tables["subjects"], Key={"subject_id": {"S": subject_id}})
    found["subjects"] = json.dumps(subject.get("Item"), sort_keys=True, default=repr)
    return found


def agreement(principal: str, **overrides: Any) -> dict[str, Any]:
    terms: dict[str, Any] = {
        "name": "Mailing House Ltd",
        "version": "2026-11-a",
        "signed_on": "2026-11-01",
        "purposes": ["crm_core", "marketing"],
        "categories": ["contact", "preferences"],
        "commitments": {
            "purpose_limitation": True,
            "confidentiality": True,
            "deletion_days": 30,
            "onward_transfer_requires_approval": True,
        },
        "principal": principal,
    }
    terms.update(overrides)
    return terms
