"""Sending a notice: SES `SendTemplatedEmail` with a declared template, at most once per request and kind.

Why synchronous, right after the request is recorded, and not through a queue: the address is at
hand only there — the caller's ID token carries the verified `email` claim — and a queue would have
to hold it (personal data at rest in SQS, outside the data map) or look it up later (a function that
reads every customer's address). The request is committed before anything is sent, and `send`
never raises: whatever goes wrong — no address, SES refusing or throttling, DynamoDB — is recorded
on the request (`notices.<kind>`: `sent`, `failed` with SES's error code, or `not_sent` with a
declared reason) and counted (`NoticesSent`, `NoticesFailed`, alarmed), so a notice can neither
fail nor repeat the customer's request. Each notice is claimed on the request before it is sent
(`RequestsTable.claim_notice`): a retried call, a replayed response or a re-run step never sends it
twice; a send cut off between the claim and the outcome stays `sending`, and is not sent again
(at most once: a second copy of a notice is worse than a gap the register shows).

The SES API semantics this relies on (SES API reference, `SendTemplatedEmail`): the `Source` must
be a verified identity (address or domain); in the SES sandbox every recipient must be verified too;
the call answers a `MessageId` once SES accepted the message — delivery is asynchronous, and a
template variable missing from `TemplateData` is a "Rendering Failure" after acceptance, which
`custody.declared.notices.template_data` rules out by requiring every field. An error's message can
name the addresses involved, so only its code is kept.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Final

from botocore.exceptions import BotoCoreError, ClientError

from custody.declared import naming
from custody.declared.clock import now_iso
from custody.declared.notices import NoticeDataRefused, NoticeKind, template_data
from custody.declared.settings import Settings
from custody.platform.aws import clients
from custody.platform.observability import count
from custody.stores.requests import RequestsTable

log = logging.getLogger(__name__)

SENT: Final = "sent"
FAILED: Final = "failed"
NOT_SENT: Final = "not_sent"
ALREADY: Final = "already_claimed"
# Why a notice was not sent, as recorded (declared words; never an address).
NO_ADDRESS: Final = "no_address"
UNSUPPORTED_ADDRESS: Final = "unsupported_address"
INVALID_DATA: Final = "invalid_data"
INTERRUPTED: Final = "interrupted"  # claimed by a call cut off before it recorded how the send went
RETENTION: Final = "retention"  # a retention erasure: nobody asked, nobody is told
_ERROR_CODE: Final = re.compile(r"[A-Za-z][A-Za-z0-9.]{0,63}")
_ADDRESS: Final = re.compile(r"[^@\s]{1,64}@[^@\s]+\.[^@\s]+")


@dataclass(frozen=True)
class NoticeOutcome:
    """How one notice went.

    `sent`; `failed` (`reason`: SES's error code); `not_sent` (`reason`: why); or `already_claimed` (an
    earlier call claimed it: nothing was done).
    """

    status: str
    reason: str | None = None


def deliverable(address: str | None) -> str | None:
    """The address as SES takes it, or None when it cannot be sent to.

    SES takes 7-bit ASCII addresses: an internationalized domain goes in its Punycode form (the
    `idna` codec); a local part that is not ASCII cannot be sent to (SES API reference, `Destination`).
    """
    if not address or not _ADDRESS.fullmatch(address):
        return None
    local, _, domain = address.rpartition("@")
    if not local.isascii():
        return None
    try:
        ascii_domain = domain if domain.isascii() else domain.encode("idna").decode("ascii")
    except UnicodeError:
        return None
    return f"{local}@{ascii_domain}"


class Notices:
    """Sends notices about the requests of `settings`' requests table, from `Settings.notice_sender`."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.requests = RequestsTable(settings)

    def send(
        self,
        request_id: str,
        kind: NoticeKind,
        address: str | None,
        values: Mapping[str, str],
        vocabulary: Mapping[str, frozenset[str]] | None = None,
    ) -> NoticeOutcome:
        """Send notice `kind` about request `request_id` to `address`, once; record and count how it went.

        `values` are the template's fields (`custody.declared.notices.TEMPLATES`), checked before anything
        is sent; `vocabulary` the allowed texts of its DECLARED fields. Never raises: a failure is the
        outcome returned (and recorded on the request, when the request could be written).
        """
        return self._guarded(lambda: self._send(request_id, kind, address, values, vocabulary, claimed=False))

    def claim(self, request_id: str, kind: NoticeKind) -> bool:
        """Claim notice `kind` of this request ahead of `deliver` (at most once, ever); never raises (False)."""
        try:
            return self.requests.claim_notice(request_id, kind.value)
        except Exception as error:
            log.warning("A notice could not be claimed", extra={"error": type(error).__name__})
            return False

    def deliver(
        self,
        request_id: str,
        kind: NoticeKind,
        address: str | None,
        values: Mapping[str, str],
        vocabulary: Mapping[str, frozenset[str]] | None = None,
    ) -> NoticeOutcome:
        """Send a notice this caller `claim`ed; record and count how it went. Never raises."""
        return self._guarded(lambda: self._send(request_id, kind, address, values, vocabulary, claimed=True))

    def interrupted(self, request_id: str, kind: NoticeKind) -> None:
        """A notice claimed by a call that was cut off before it recorded the outcome is recorded `failed`."""
        try:
            notice = ((self.requests.load(request_id) or {}).get("notices") or {}).get(kind.value) or {}
            if notice.get("status") == "sending":
                self._record(request_id, kind, NoticeOutcome(FAILED, INTERRUPTED))
                count("NoticesFailed")
        except Exception as error:
            log.warning("A notice's outcome could not be recorded", extra={"error": type(error).__name__})

    def not_sent(self, request_id: str, kind: NoticeKind, reason: str) -> NoticeOutcome:
        """Record that notice `kind` is not sent for this request, and why (a declared word); never raises."""
        try:
            if self.requests.claim_notice(request_id, kind.value):
                self._record(request_id, kind, NoticeOutcome(NOT_SENT, reason))
                return NoticeOutcome(NOT_SENT, reason)
            return NoticeOutcome(ALREADY)
        except Exception as error:
            log.warning("A notice's outcome could not be recorded", extra={"error": type(error).__name__})
            return NoticeOutcome(FAILED, type(error).__name__)

    @staticmethod
    def _guarded(attempt: Callable[[], NoticeOutcome]) -> NoticeOutcome:
        try:
            return attempt()
        except Exception as error:  # a notice never fails the request it is about
            log.warning("A notice could not be sent or recorded", extra={"error": type(error).__name__})
            count("NoticesFailed")
            return NoticeOutcome(FAILED, type(error).__name__)

    def _send(
        self,
        request_id: str,
        kind: NoticeKind,
        address: str | None,
        values: Mapping[str, str],
        vocabulary: Mapping[str, frozenset[str]] | None,
        *,
        claimed: bool,
    ) -> NoticeOutcome:
        try:
            data = template_data(kind, values, vocabulary)
        except NoticeDataRefused as refused:
            log.error("A notice's data is outside its template", extra={"kind": kind.value, "field": refused.field})
            return self._finish(request_id, kind, NoticeOutcome(FAILED, INVALID_DATA), claimed=claimed)
        if not claimed and not self.requests.claim_notice(request_id, kind.value):
            return NoticeOutcome(ALREADY)
        to = deliverable(address)
        if to is None:
            reason = NO_ADDRESS if not address else UNSUPPORTED_ADDRESS
            return self._finish(request_id, kind, NoticeOutcome(NOT_SENT, reason), claimed=True)
        try:
            response = clients.ses().send_templated_email(
                Source=self.settings.notice_sender,
                Destination={"ToAddresses": [to]},
                Template=naming.notice_template_name(self.settings.resource_prefix, kind.value),
                TemplateData=data,
            )
        except ClientError as error:
            code = str(error.response.get("Error", {}).get("Code", ""))
            failure = NoticeOutcome(FAILED, code if _ERROR_CODE.fullmatch(code) else "error")
            return self._finish(request_id, kind, failure, claimed=True)
        except BotoCoreError as error:
            return self._finish(request_id, kind, NoticeOutcome(FAILED, type(error).__name__), claimed=True)
        outcome = NoticeOutcome(SENT)
        self._record(request_id, kind, outcome, message_id=str(response.get("MessageId", "")))
        count("NoticesSent")
        return outcome

    def _finish(
        self, request_id: str, kind: NoticeKind, outcome: NoticeOutcome, *, claimed: bool = False
    ) -> NoticeOutcome:
        if claimed or self.requests.claim_notice(request_id, kind.value):
            self._record(request_id, kind, outcome)
        if outcome.status == FAILED:
            log.warning("A notice failed", extra={"kind": kind.value, "reason": outcome.reason})
            count("NoticesFailed")
        return outcome

    def _record(self, request_id: str, kind: NoticeKind, outcome: NoticeOutcome, message_id: str = "") -> None:
        entry = {"status": outcome.status, "at": now_iso()}
        if outcome.reason:
            entry["reason"] = outcome.reason
        if message_id:
            entry["message_id"] = message_id  # SES's id of the accepted message, to trace a bounce
        self.requests.record_notice(request_id, kind.value, entry)
