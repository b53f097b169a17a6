"""Erasure requests: the record a customer (and an auditor) follows by an unguessable id.

A request holds ids, statuses, counts and timestamps — never personal data — so it outlives
the customer's account and `GET /v1/requests/{request_id}` keeps answering after erasure.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from custody import dynamo
from custody.settings import Settings
from custody.subjects import now_iso

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.type_defs import TransactWriteItemTypeDef

TABLE = "requests"


class ErasureReason(StrEnum):
    WITHDRAWAL = "withdrawal"
    PURPOSE_WITHDRAWN = "purpose_withdrawn"
    RETENTION = "retention"


class RequestStatus(StrEnum):
    RECEIVED = "received"
    IN_PROGRESS = "in_progress"
    COMPLETED = "completed"
    FAILED = "failed"


@dataclass(frozen=True)
class ErasureRequest:
    request_id: str
    subject_id: str
    reason: ErasureReason
    scope: tuple[str, ...]  # the data-map categories to erase; every category for a full withdrawal
    status: RequestStatus
    created_at: str

    def status_url(self) -> str:
        return f"/v1/requests/{self.request_id}"

    def to_item(self) -> dict[str, Any]:
        return {
            "request_id": self.request_id,
            "kind": "erasure",
            "subject_id": self.subject_id,
            "reason": self.reason.value,
            "scope": list(self.scope),
            "status": self.status.value,
            "created_at": self.created_at,
            "updated_at": self.created_at,
        }


def new_request_id() -> str:
    """122 random bits: unguessable, and a valid Step Functions execution name."""
    return str(uuid.uuid4())


class RequestRegistry:
    def __init__(self, settings: Settings) -> None:
        self.table = settings.table(TABLE)

    def new_erasure(self, subject_id: str, reason: ErasureReason, scope: tuple[str, ...]) -> ErasureRequest:
        return ErasureRequest(new_request_id(), subject_id, reason, scope, RequestStatus.RECEIVED, now_iso())

    def put_item(self, request: ErasureRequest) -> TransactWriteItemTypeDef:
        return {
            "Put": {
                "TableName": self.table,
                "Item": dynamo.to_item(request.to_item()),
                "ConditionExpression": "attribute_not_exists(request_id)",
            }
        }

    def load(self, request_id: str) -> dict[str, Any] | None:
        return dynamo.get(self.table, {"request_id": request_id})
