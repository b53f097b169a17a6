"""An AWS fault that outlives botocore's retries is a JSON 503 with Retry-After; any other AWS error stays a fault."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError

from custody.declared import datamap
from custody.stores import dynamo
from tests.integration.customers.conftest import Customer, call, grant
from tests.integration.customers.test_profile import SAMPLES


def _failing(code: str, status: int) -> Any:
    def transact(*_: Any, **__: Any) -> None:
        raise ClientError(
            {"Error": {"Code": code, "Message": "for +84912345678"}, "ResponseMetadata": {"HTTPStatusCode": status}},
            "TransactWriteItems",
        )

    return transact


def test_a_throttled_write_is_a_503_to_retry_and_writes_nothing(
    customer: Customer, monkeypatch: pytest.MonkeyPatch
) -> None:
    grant(customer, *datamap.PURPOSES)
    monkeypatch.setattr(dynamo, "transact", _failing("ProvisionedThroughputExceededException", 400))
    reply = call("collect", "PUT", "/v1/me/profile", customer, SAMPLES)
    assert reply.status == 503
    assert reply.headers["Retry-After"] == "2"
    assert reply.body["error"] == "service_busy"
    assert "+84912345678" not in reply.raw  # the AWS message is never echoed
    monkeypatch.undo()
    assert call("subject_access", "GET", "/v1/me", customer).body["stores"]["profiles"]["categories"] == {}


def test_an_aws_error_that_is_not_transient_stays_a_fault(customer: Customer, monkeypatch: pytest.MonkeyPatch) -> None:
    grant(customer, *datamap.PURPOSES)
    monkeypatch.setattr(dynamo, "transact", _failing("AccessDeniedException", 400))
    with pytest.raises(ClientError):
        call("collect", "PUT", "/v1/me/profile", customer, SAMPLES)


def test_a_throttled_idempotency_table_is_a_503_too(customer: Customer, monkeypatch: pytest.MonkeyPatch) -> None:
    from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer

    monkeypatch.setattr(DynamoDBPersistenceLayer, "_put_record", _failing("ThrottlingException", 400))
    grant_request = {"purpose": "crm_core", "policy_version": "2026-11"}
    reply = call(
        "collect", "POST", "/v1/me/consents", customer, grant_request, headers={"Idempotency-Key": "k-12345678"}
    )
    assert (reply.status, reply.body["error"], reply.headers["Retry-After"]) == (503, "service_busy", "2")
    monkeypatch.undo()
    assert call("subject_access", "GET", "/v1/me", customer).body["stores"]["consents"]["granted"] == {}
