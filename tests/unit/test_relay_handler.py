"""The relay function's batch handling: partial batch responses, backoff, and what it logs (no body, no token)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from custody.subprocessors.relay import DeliveryFailed
from devstack.runtime import LocalLambdaContext

handler: Any = pytest.importorskip("processor_relay.handler")

TOKEN = "AQCEAAAAKgAAAA-secret-task-token"  # a stand-in


def _record(message_id: str, processor_id: str, receive_count: int = 1) -> dict[str, Any]:
    body = {
        "kind": "erasure",
        "task_token": TOKEN,
        "request_id": "3064937a-e950-4a77-abdf-7d8706102f2e",
        "subject_id": "subject-1",
        "processor_id": processor_id,
        "deadline": "2027-01-05T14:09:52.113Z",
    }
    return {
        "messageId": message_id,
        "receiptHandle": f"receipt-{message_id}",
        "body": json.dumps(body),
        "attributes": {"ApproximateReceiveCount": str(receive_count)},
        "messageAttributes": {"processor_id": {"stringValue": processor_id, "dataType": "String"}},
        "md5OfBody": "",
        "eventSource": "aws:sqs",
        "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:crm-custody-processor-notifications",
        "awsRegion": "us-east-1",
    }


class FakeRelay:
    def __init__(self, failing: dict[str, Exception]) -> None:
        self.failing = failing
        self.delivered: list[str] = []

    def deliver(self, body: str, delivery_id: str) -> int:
        processor_id = json.loads(body)["processor_id"]
        if processor_id in self.failing:
            raise self.failing[processor_id]
        self.delivered.append(delivery_id)
        return 202


def test_failed_records_are_reported_alone_pushed_back_and_logged_without_the_body(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    fake = FakeRelay({"down": DeliveryFailed("processor down: endpoint answered 503"), "odd": RuntimeError(TOKEN)})
    postponed: list[tuple[str, int]] = []
    monkeypatch.setattr(handler, "relay", lambda: fake)
    monkeypatch.setattr(handler, "postpone", lambda settings, receipt, delay: postponed.append((receipt, delay)))
    event = {"Records": [_record("m1", "up"), _record("m2", "down", receive_count=4), _record("m3", "odd")]}
    logger = handler.obs.logger._logger
    logger.addHandler(caplog.handler)
    try:
        result = handler.lambda_handler(event, LocalLambdaContext.for_call("processor_relay"))
    finally:
        logger.removeHandler(caplog.handler)
    assert result == {"batchItemFailures": [{"itemIdentifier": "m2"}, {"itemIdentifier": "m3"}]}
    assert fake.delivered == ["m1"]
    assert [receipt for receipt, _ in postponed] == ["receipt-m2", "receipt-m3"]
    assert 1 <= postponed[0][1] <= 480  # the 4th receive: at most 60 s * 2 ** 3
    logged = json.dumps([record.__dict__ for record in caplog.records], default=str)
    assert "endpoint answered 503" in logged
    assert "RuntimeError" in logged
    assert TOKEN not in logged
    assert "subject-1" not in logged


def test_a_batch_that_fails_whole_is_reported_not_raised(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(handler, "relay", lambda: FakeRelay({"down": DeliveryFailed("x")}))
    monkeypatch.setattr(handler, "postpone", lambda settings, receipt, delay: None)
    event = {"Records": [_record("m1", "down"), _record("m2", "down")]}
    result = handler.lambda_handler(event, LocalLambdaContext.for_call("processor_relay"))
    assert result == {"batchItemFailures": [{"itemIdentifier": "m1"}, {"itemIdentifier": "m2"}]}
