"""Sub-processors acknowledge erasure notifications: the callback that completes the workflow's wait.

The notification (SQS, sent by the erasure workflow's `ask_processor` step) carries a task token
whose seal — a KMS HMAC over the request, the processor and the token (`custody.subprocessors.task_tokens`) — is
kept on the request record. The processor returns the token with the request and its own id.
The caller is identified by its token's `sub` alone: the registry resolves the agreement that
names that principal, and the acknowledgement is accepted only if the body names that same
processor, the request notified it, and the seal verifies for (request, processor, token). Only
then is `SendTaskSuccess` called; any other token is refused with 403 and stays usable by the
processor it was issued to. The state machine's Choice then checks once more that the
acknowledgement names the processor it waited for.

Every event names the resolved identity (`processor/<id>` on its chain `processors/<id>`); a
principal that resolves to no agreement is recorded as the audience `processor` on
`refusals/processors` — nothing from the body reaches the ledger.
"""

from __future__ import annotations

import json
from contextlib import AbstractContextManager
from typing import Any, Final

from botocore.exceptions import ClientError

from custody.access_control.principals import PROCESSORS_FUNCTION, audited_refusals
from custody.audit.ledger import AuditLedger
from custody.declared.clock import now_iso
from custody.declared.errors import Conflict, Forbidden, NotFound
from custody.declared.settings import Settings
from custody.platform.aws import clients
from custody.stores.requests import TOKEN_SEALS, ProcessorOutcome, RequestsTable
from custody.subprocessors.registry import Agreement, ProcessorRegistry, processor_chain
from custody.subprocessors.task_tokens import TaskTokenSeals

STEP: Final = "processor_erasure_ack"
UNRESOLVED_ACTOR: Final = "processor"  # an authenticated principal that no agreement names
_CLOSED_TOKEN_ERRORS: Final = frozenset({"TaskTimedOut", "InvalidToken", "TaskDoesNotExist"})


def actor_of(agreement: Agreement) -> str:
    """How the ledger names a registered sub-processor: `processor/<processor id>`."""
    return f"processor/{agreement.processor_id}"


class ErasureAcks:
    """Sub-processors' acknowledgements of erasure requests under `settings`.

    Step Functions, KMS and DynamoDB errors other than those `acknowledge` names pass through as
    botocore's `ClientError`.
    """

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.registry = ProcessorRegistry(settings)
        self.requests = RequestsTable(settings)
        self.seals = TaskTokenSeals(settings)

    def acknowledge(self, principal: str, processor_id: str, request_id: str, task_token: str) -> dict[str, Any]:
        """Complete the workflow's wait for this processor: `{request_id, processor_id, outcome}`.

        `principal` is the authenticated token's `sub`. Raises `Forbidden` (403, recorded) when no
        agreement names the principal, when the body names another processor, or when the token
        was not issued to this processor for this request; `NotFound` (404) when the request did
        not notify it; `Conflict` (409) after its deadline or once the wait is closed.
        """
        agreement = self._resolve(principal)
        with self._refusals(agreement):
            if agreement.processor_id != processor_id:
                raise Forbidden("This identity does not act for that sub-processor.")
        request = self.requests.load(request_id) or {}
        outcome = dict(request.get("sub_processors") or {}).get(agreement.processor_id)
        if outcome is None:
            raise NotFound("No erasure notification for this sub-processor under that request.")
        if outcome == ProcessorOutcome.UNCONFIRMED:
            raise Conflict("The acknowledgement deadline passed; the request was escalated to privacy officers.")
        # The token is checked before anything else is said about the request, a repeat included.
        seal = str(dict(request.get(TOKEN_SEALS) or {}).get(agreement.processor_id, ""))
        with self._refusals(agreement):
            if not seal or not self.seals.matches(request_id, agreement.processor_id, task_token, seal):
                raise Forbidden("This task token was not issued to this sub-processor for this request.")
        if outcome == ProcessorOutcome.CONFIRMED:
            return {"request_id": request_id, "processor_id": processor_id, "outcome": ProcessorOutcome.CONFIRMED.value}
        acknowledged_at = now_iso()
        output = {"processor_id": processor_id, "request_id": request_id, "acknowledged_at": acknowledged_at}
        try:
            clients.stepfunctions().send_task_success(taskToken=task_token, output=json.dumps(output))
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") in _CLOSED_TOKEN_ERRORS:
                raise Conflict("This notification is no longer awaiting an acknowledgement.") from None
            raise
        AuditLedger(self.settings).record(
            step=STEP,
            target=f"processor/{agreement.processor_id}",
            outcome="acknowledged",
            actor=actor_of(agreement),
            request_id=request_id,
            subject_id=request.get("subject_id"),
            processor=agreement,
        )
        return {"request_id": request_id, "processor_id": processor_id, "outcome": "acknowledged"}

    def _resolve(self, principal: str) -> Agreement:
        """The agreement this principal acts for, else a recorded 403 on the function's refusal chain."""
        with audited_refusals(
            self.settings, function=PROCESSORS_FUNCTION, step=STEP, target="processor", actor=UNRESOLVED_ACTOR
        ):
            agreement = self.registry.for_principal(principal)
            if agreement is None:
                raise Forbidden("This identity does not act for any sub-processor.")
        return agreement

    def _refusals(self, agreement: Agreement) -> AbstractContextManager[None]:
        return audited_refusals(
            self.settings,
            function=PROCESSORS_FUNCTION,
            step=STEP,
            target=f"processor/{agreement.processor_id}",
            actor=actor_of(agreement),
            chain_id=processor_chain(agreement),
            processor=agreement,
        )
