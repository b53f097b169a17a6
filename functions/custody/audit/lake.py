"""CloudTrail Lake: a copy of every audit event, sent to a channel with `cloudtrail-data:PutAuditEvents`.

Optional (the CDK context flag `custody:cloudTrailLake`): the Object Lock ledger stays the
record; the Lake makes the same events queryable with SQL beside the trail's API calls. Each
event becomes one CloudTrail Lake integration event whose `additionalEventData` is the ledger
event itself, ids and counts only, so nothing personal reaches the Lake either.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import TYPE_CHECKING, Any, Final

from custody.platform.aws import clients

if TYPE_CHECKING:
    from custody.audit.ledger import AuditEvent

EVENT_SOURCE: Final = "custody.audit.ledger"
MAX_EVENT_DATA_BYTES: Final = 256 * 1024  # PutAuditEvents' limit for one eventData


class LakeRefused(Exception):
    """The channel did not take the event."""


def event_data(event: AuditEvent, account_id: str) -> str:
    """The integration event (CloudTrail Lake's schema, version 1.0) as the JSON string the API takes."""
    data: dict[str, Any] = {
        "version": "1.0",
        "userIdentity": {"type": "CustodyActor", "principalId": event.actor},
        "eventSource": EVENT_SOURCE,
        "eventName": event.step,
        "eventTime": event.at,
        "UID": event.event_id,
        "recipientAccountId": account_id,
        "additionalEventData": asdict(event),
    }
    text = json.dumps(data, sort_keys=True, separators=(",", ":"))
    if len(text.encode()) > MAX_EVENT_DATA_BYTES:
        raise LakeRefused(f"Audit event {event.event_id} exceeds the Lake's {MAX_EVENT_DATA_BYTES} bytes.")
    return text


class LakeChannel:
    """The CloudTrail Lake channel `channel_arn`: a sink for a copy of each audit event.

    The recipient account is the ARN's account field.
    """

    def __init__(self, channel_arn: str) -> None:
        self.channel_arn = channel_arn
        self.account_id = channel_arn.split(":")[4]

    def send(self, event: AuditEvent) -> None:
        """Put `event` into the channel with `PutAuditEvents`, one event per call.

        Raises `LakeRefused` when the event is over `MAX_EVENT_DATA_BYTES` or the channel lists it as
        failed; botocore's `ClientError` passes through.
        """
        response = clients.cloudtrail_data().put_audit_events(
            channelArn=self.channel_arn,
            auditEvents=[{"id": event.event_id, "eventData": event_data(event, self.account_id)}],
        )
        failed = response.get("failed", [])
        if failed:
            raise LakeRefused(f"The Lake channel refused audit event {event.event_id}: {failed[0].get('errorCode')}.")
