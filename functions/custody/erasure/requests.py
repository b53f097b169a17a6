"""Erasure requests: the record a customer (and an auditor) follows by an unguessable id.

A request holds ids, statuses, counts and timestamps — never personal data — so it outlives
the customer's account and `GET /v1/requests/{request_id}` keeps answering after erasure.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from custody.declared.clock import now_iso
from custody.declared.settings import Settings
from custody.platform.aws import clients
from custody.stores import dynamo

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.type_defs import TransactWriteItemTypeDef

TABLE = "requests"
# The erasure workflow's steps as a request counts them (statemachines/erasure.asl.json runs them).
ERASURE_STEPS = ("freeze", "erase_stores", "notify_processors", "shred_key", "delete_identity", "verify", "certify")


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
    processors: tuple[str, ...] = ()  # a `sharing:` withdrawal: only these sub-processors are notified

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
            "steps": {},  # step → when it completed
            "erased": {},  # store → items and object versions deleted
            "processors": list(self.processors),
        }


def new_request_id() -> str:
    """122 random bits: unguessable, and a valid Step Functions execution name."""
    return str(uuid.uuid4())


class RequestRegistry:
    def __init__(self, settings: Settings) -> None:
        self.table = settings.table(TABLE)
        self.state_machine_arn = settings.erasure_state_machine_arn

    def new_erasure(
        self, subject_id: str, reason: ErasureReason, scope: tuple[str, ...], processors: tuple[str, ...] = ()
    ) -> ErasureRequest:
        return ErasureRequest(
            new_request_id(), subject_id, reason, scope, RequestStatus.RECEIVED, now_iso(), processors
        )

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

    def start(self, request: ErasureRequest, attempt: int = 0) -> str:
        """Start the erasure workflow, named by the request id: starting it twice starts it once.

        A re-run after a failure (`attempt` > 0) is a new execution, `<request id>-rerun-<n>`:
        every step is idempotent, so it finishes the job without harm. The input is ids and
        category names only — Step Functions keeps it for 90 days. Returns the execution name.
        """
        name = request.request_id if attempt == 0 else f"{request.request_id}-rerun-{attempt}"
        workflow_input = {
            "request_id": request.request_id,
            "subject_id": request.subject_id,
            "reason": request.reason.value,
            "scope": list(request.scope),
        }
        try:
            clients.stepfunctions().start_execution(
                stateMachineArn=self.state_machine_arn, name=name, input=json.dumps(workflow_input)
            )
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") != "ExecutionAlreadyExists":
                raise
        return name

    def erasure(self, request_id: str) -> ErasureRequest | None:
        item = self.load(request_id)
        if item is None:
            return None
        return ErasureRequest(
            request_id,
            item["subject_id"],
            ErasureReason(item["reason"]),
            tuple(item["scope"]),
            RequestStatus(item["status"]),
            item["created_at"],
            tuple(item.get("processors", ())),
        )


def status_view(item: dict[str, Any], steps_total: int = len(ERASURE_STEPS)) -> dict[str, Any]:
    """A request as anyone holding its id may see it: ids, statuses, counts, the certificate digest."""
    steps = item.get("steps", {})
    return {
        "request_id": item["request_id"],
        "kind": item.get("kind", "erasure"),
        "reason": item["reason"],
        "status": item["status"],
        "created_at": item["created_at"],
        "updated_at": item.get("updated_at", item["created_at"]),
        "steps_done": len([name for name in steps if name != "failed"]),
        "steps_total": steps_total,
        "certificate_digest": item.get("certificate_digest"),
    }
