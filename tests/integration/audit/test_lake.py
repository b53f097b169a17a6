"""The CloudTrail Lake adapter, against a fake: moto has no `cloudtrail-data`, so the fake checks the
request shape PutAuditEvents documents (channelArn; auditEvents of {id, eventData} with eventData a
JSON string of at most 256 KB) and answers as the service does. It proves the shape, not the service."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest

from custody.audit import lake
from custody.audit.ledger import AuditLedger
from custody.platform.aws import clients
from tests.integration.audit.conftest import Erased

CHANNEL = "arn:aws:cloudtrail:us-east-1:123456789012:channel/" + "0" * 8 + "-0000-0000-0000-" + "0" * 12

REQUIRED_FIELDS = {"version", "userIdentity", "eventSource", "eventName", "eventTime", "UID", "recipientAccountId"}


class FakeCloudTrailData:
    def __init__(self) -> None:
        self.received: list[dict[str, Any]] = []

    def put_audit_events(self, **request: Any) -> dict[str, Any]:
        assert set(request) <= {"auditEvents", "channelArn", "externalId"}
        assert request["channelArn"].startswith("arn:aws:cloudtrail:")
        assert ":channel/" in request["channelArn"]
        events = request["auditEvents"]
        assert 1 <= len(events) <= 100
        for event in events:
            assert set(event) <= {"id", "eventData", "eventDataChecksum"}
            assert isinstance(event["id"], str)
            assert 0 < len(event["id"]) <= 128
            assert isinstance(event["eventData"], str)
            assert len(event["eventData"].encode()) <= 256 * 1024
            data = json.loads(event["eventData"])
            assert {
                "version",
                "userIdentity",
                "eventSource",
                "eventName",
                "eventTime",
                "UID",
                "recipientAccountId",
            } <= set(data)
            self.received.append(data)
        return {"successful": [{"id": event["id"], "eventID": str(uuid.uuid4())} for event in events], "failed": []}


def test_every_event_goes_to_the_lake_channel_too(erased: Erased, monkeypatch: pytest.MonkeyPatch) -> None:
    fake = FakeCloudTrailData()
    monkeypatch.setattr(clients, "cloudtrail_data", lambda: fake)
    ledger = AuditLedger(erased.settings.model_copy(update={"audit_lake_channel_arn": CHANNEL}))
    event = ledger.record(
        step="verify", target="workflow", outcome="ok", actor="erasure-workflow", chain_id=str(uuid.uuid4())
    )
    (sent,) = fake.received
    assert (sent["UID"], sent["eventName"], sent["recipientAccountId"]) == (event.event_id, "verify", "123456789012")
    assert sent["additionalEventData"]["hash"] == event.hash


def test_an_oversized_event_is_refused_before_it_is_sent() -> None:
    from custody.audit.ledger import AuditEvent

    huge = AuditEvent("e", "c", 1, None, None, "s" * (300 * 1024), "t", "ok", {}, "2026-01-01T00:00:00Z", "a", "0")
    with pytest.raises(lake.LakeRefused):
        lake.event_data(huge, "123456789012")


def test_a_failed_copy_never_fails_the_record_so_a_retry_cannot_write_the_fact_twice(
    erased: Erased, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    class Refusing(FakeCloudTrailData):
        def put_audit_events(self, **request: Any) -> dict[str, Any]:
            raise lake.LakeRefused("the channel is down")

    monkeypatch.setattr(clients, "cloudtrail_data", Refusing)
    ledger = AuditLedger(erased.settings.model_copy(update={"audit_lake_channel_arn": CHANNEL}))
    chain = str(uuid.uuid4())
    event = ledger.record(step="verify", target="workflow", outcome="ok", actor="erasure-workflow", chain_id=chain)
    assert event.seq == 1
    assert ledger.head(chain)["seq"] == 1  # type: ignore[index]
    copied = [record for record in caplog.records if record.getMessage().startswith("An audit event is in the ledger")]
    assert [getattr(record, "event_id", None) for record in copied] == [event.event_id]
