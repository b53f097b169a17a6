"""Audit tests: one full erasure per module (real tokens, the real ASL on moto), read as an auditor."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pytest

from custody.audit.review.chain import Chain, Verification
from custody.audit.review.reader import AuditorReader
from custody.audit.review.verification import verify
from custody.declared import naming
from custody.declared.settings import Settings
from tests.integration.conftest import LocalStack
from tests.integration.erasure.conftest import (
    PROFILE,
    Customer,
    customer,
    new_customer,
    wait_for_execution,
)

__all__ = ["Erased", "customer", "erased", "new_customer"]


@dataclass
class Erased:
    stack: LocalStack
    customer: Customer
    request_id: str
    execution_arn: str
    settings: Settings

    def reader(self) -> AuditorReader:
        return AuditorReader(self.settings, self.stack.clients)

    def inspect(self, chain_id: str | None = None) -> tuple[Chain, Verification]:
        chain = self.reader().chain(chain_id or self.request_id)
        return chain, verify(chain)

    def submitted_values(self) -> list[str]:
        values = [self.customer.email, self.customer.email.split("@")[0]]
        for category in PROFILE.values():
            for value in category.values():
                if isinstance(value, str) and len(value) > 3:
                    values.append(value)
        return values

    def every_ledger_body(self) -> dict[str, str]:
        """Every version of every object under ledger/, as text (an auditor's full read)."""
        s3 = self.stack.clients("s3")
        bucket = self.settings.bucket(naming.AUDIT_BUCKET)
        bodies = {}
        for page in s3.get_paginator("list_object_versions").paginate(Bucket=bucket, Prefix="ledger/"):
            for version in page.get("Versions", []):
                body = s3.get_object(Bucket=bucket, Key=version["Key"], VersionId=version["VersionId"])["Body"]
                bodies[f"{version['Key']}@{version['VersionId']}"] = body.read().decode()
        return bodies


@pytest.fixture(scope="module")
def erased(local_stack: LocalStack) -> Erased:
    person = Customer.signed_up(local_stack)
    assert person.call("POST", "/v1/me/consents", {"purpose": "crm_core", "policy_version": "2026-11"}).status == 201
    refused = person.call("PUT", "/v1/me/profile", {"health": PROFILE["health"]})
    assert (refused.status, refused.body["error"]) == (403, "consent_required"), refused.text
    person.fill(documents=2)
    accepted = person.call("POST", "/v1/me/withdrawal")
    assert accepted.status == 202, accepted.text
    request_id = accepted.body["request_id"]
    described = wait_for_execution(local_stack, request_id)
    assert described["status"] == "SUCCEEDED", described
    settings = Settings.from_env(local_stack.resources.environment)
    return Erased(local_stack, person, request_id, described["executionArn"], settings)


def event_json(text: str) -> dict[str, Any]:
    value: dict[str, Any] = json.loads(text)
    return value
