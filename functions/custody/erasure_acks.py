"""Sub-processors acknowledge erasure notifications: the callback that completes the workflow's wait.

The notification (SQS, sent by the state machine) carries a task token. The processor returns
it with the request and its own id; the call is accepted only from the machine identity its
agreement names, and only for a request that notified that processor. The state machine then
checks that the acknowledgement names the processor it waited for before recording it as
confirmed — a token returned by anyone else ends as unconfirmed and is escalated.
"""

from __future__ import annotations

import json
from typing import Any, Final

from botocore.exceptions import ClientError

from custody.audit import AuditLedger
from custody.aws import clients
from custody.errors import Conflict, Forbidden, NotFound
from custody.processors import ProcessorRegistry
from custody.requests import RequestRegistry
from custody.settings import Settings
from custody.staff import audited_refusals
from custody.subjects import now_iso

CONFIRMED: Final = "confirmed"
UNCONFIRMED: Final = "unconfirmed"
NOTIFIED: Final = "notified"
_CLOSED_TOKEN_ERRORS: Final = frozenset({"TaskTimedOut", "InvalidToken", "TaskDoesNotExist"})


class ErasureAcks:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.registry = ProcessorRegistry(settings)
        self.requests = RequestRegistry(settings)

    def acknowledge(self, principal: str, processor_id: str, request_id: str, task_token: str) -> dict[str, Any]:
        actor = f"processor/{processor_id}"
        with audited_refusals(
            self.settings,
            step="processor_erasure_ack",
            target=f"processor/{processor_id}",
            actor=actor,
            chain_id=f"processors/{processor_id}",
        ):
            agreement = self.registry.get(processor_id)
            if agreement is None or agreement.principal != principal:
                raise Forbidden("This identity does not act for that sub-processor.")
        request = self.requests.load(request_id) or {}
        outcome = dict(request.get("sub_processors") or {}).get(processor_id)
        if outcome is None:
            raise NotFound("No erasure notification for this sub-processor under that request.")
        if outcome == CONFIRMED:
            return {"request_id": request_id, "processor_id": processor_id, "outcome": CONFIRMED}
        if outcome == UNCONFIRMED:
            raise Conflict("The acknowledgement deadline passed; the request was escalated to privacy officers.")
        acknowledged_at = now_iso()
        output = {"processor_id": processor_id, "request_id": request_id, "acknowledged_at": acknowledged_at}
        try:
            clients.stepfunctions().send_task_success(taskToken=task_token, output=json.dumps(output))
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") in _CLOSED_TOKEN_ERRORS:
                raise Conflict("This notification is no longer awaiting an acknowledgement.") from None
            raise
        AuditLedger(self.settings).record(
            step="processor_erasure_ack",
            target=f"processor/{processor_id}",
            outcome="acknowledged",
            actor=actor,
            request_id=request_id,
            subject_id=request.get("subject_id"),
        )
        return {"request_id": request_id, "processor_id": processor_id, "outcome": "acknowledged"}
