"""Response bodies of the `audit_review` routes: ids, kinds, outcomes, counts, dates and digests only."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field


class HistoryEventOut(BaseModel):
    """An execution history event: a state entered, a task outcome, the execution's start or end."""

    at: str
    kind: str = Field(description="The Step Functions history event type (CallbackCompleted: a callback's wait ended)")
    state: str = Field(description="The state entered (empty for other events)")
    step: str | None = Field(description="The erasure step of a task event")
    target: str | None = Field(description="The store a task event names")


class ExecutionOut(BaseModel):
    """One execution of the erasure workflow for the request (`<id>` or `<id>-rerun-<n>`)."""

    name: str
    status: str
    started_at: str
    events: list[HistoryEventOut]


class LedgerEventOut(BaseModel):
    """One audit event as stored in the ledger (custody.audit.ledger.AuditEvent)."""

    event_id: str
    chain_id: str
    seq: int
    request_id: str | None
    subject_id: str | None = Field(description="The customer's opaque id")
    step: str
    target: str
    outcome: str
    counts: dict[str, int]
    at: str
    actor: str
    prev_hash: str
    attests: str | None
    hash: str


class FindingOut(BaseModel):
    """One problem verification found (docs/audit.md lists the kinds)."""

    kind: str
    detail: str


class VerificationOut(BaseModel):
    """The verdict on a chain, as `custody audit verify` gives it."""

    ok: bool
    events: int
    head_seq: int
    head_hash: str
    certificate_digest: str | None
    findings: list[FindingOut]


class CertificateOut(BaseModel):
    """A certificate filed beside the chain, by the SHA-256 of its canonical JSON."""

    digest: str
    document: dict[str, Any]


class ChainReview(BaseModel):
    """One chain of the request: its head, executions, ledger events, verification and certificates."""

    chain_id: str
    head: dict[str, Any] | None = Field(description="The chain head in the chain table: seq and hash")
    head_readable: bool
    executions: list[ExecutionOut]
    ledger: list[LedgerEventOut]
    verification: VerificationOut
    certificates: list[CertificateOut]


class RequestReview(BaseModel):
    """What `custody audit show` prints for a request: history and ledger, verified, per chain."""

    request_id: str
    verified: bool = Field(description="Every chain verified without a finding")
    chains: list[ChainReview]


class DisposalEntry(BaseModel):
    """One erasure of the disposal register (docs/retention.md): ids, reasons, counts and dates."""

    request_id: str
    subject_id: str | None = Field(description="The customer's opaque id")
    reason: str
    policy: str
    version: str
    requested_at: str
    due_at: str | None
    extended: bool
    on_time: bool | None
    destroyed_at: str | None
    stores: dict[str, int]
    verification: str
    unrecoverable_after: str | None
    copies_expire_by: str | None
    certificate_digest: str | None
    retained: list[dict[str, Any]]
    obligations_ended: list[dict[str, Any]]


class DisposalPage(BaseModel):
    """A page of the disposal register, oldest request first, and the cursor to the next (null: the last)."""

    since: str
    until: str
    disposals: list[DisposalEntry]
    next_cursor: str | None
