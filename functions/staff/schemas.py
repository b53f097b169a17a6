"""Request and response bodies of the `staff` routes."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from custody.platform import text
from custody.staff_access.grants import DEFAULT_MINUTES, MAX_MINUTES

CustomerId = Annotated[str, Field(pattern=r"^[A-Za-z0-9-]{1,128}$")]


class GrantIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    customer_id: CustomerId
    purpose: Annotated[str, Field(min_length=1, max_length=40)]
    ticket: Annotated[
        text.Text,
        Field(min_length=1, max_length=24, description="A ticket reference like SUP-1234", examples=["SUP-1234"]),
    ]
    categories: Annotated[list[str], Field(min_length=1, max_length=10)]
    duration_minutes: Annotated[int, Field(ge=1, le=MAX_MINUTES)] = DEFAULT_MINUTES


class ApprovalIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    customer_id: CustomerId


class GrantOut(BaseModel):
    grant_id: str
    customer_id: str
    staff_id: str
    purpose: str
    ticket: str
    categories: list[str]
    status: str
    duration_minutes: int
    created_at: str
    expires_at: int | None = None
    approved_by: str | None = None


class CustomerView(BaseModel):
    """The granted categories decrypted; every other field masked."""

    customer_id: str
    grant_id: str
    purpose: str
    ticket: str
    expires_at: int | None
    granted: list[str]
    shown: list[str]
    masked: list[str]
    categories: dict[str, Any]
    interactions: list[Any] | str = Field(
        description="Under a grant for interactions, their first page (oldest first, at most 256 KiB); else `*****`"
        " when the customer has any"
    )
    interactions_count: int | None = Field(
        default=None, description="How many interactions the customer has; null without a grant for them"
    )
    interactions_next_cursor: str | None = Field(
        default=None,
        description="Pass as `cursor` to GET /v1/staff/customers/{customer_id}/interactions for the next page;"
        " null when the page holds them all",
    )


class InteractionsPage(BaseModel):
    """A page of a customer's interactions under a grant that covers them: at most 1 MiB, oldest first."""

    customer_id: str
    grant_id: str
    interactions: list[dict[str, Any]]
    count: int | None = Field(description="How many interactions the customer has; null on a page asked with a cursor")
    next_cursor: str | None = Field(description="The cursor of the next page; null when this page ends them")


class InteractionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    grant_id: Annotated[str, Field(min_length=1, max_length=64)]
    kind: Literal["order", "support_ticket"]
    summary: Annotated[text.Lines, Field(min_length=1, max_length=2000)]
    reference: Annotated[text.Text | None, Field(max_length=64)] = None


class InteractionOut(BaseModel):
    interaction_key: str
    created_at: str
    expires_at: int


class PendingChange(BaseModel):
    customer_id: str
    change_request_id: str
    field: str | None
    created_at: str | None
    value: Any = None
    reason: str | None = None


class PendingChanges(BaseModel):
    change_requests: list[PendingChange]


class DecisionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    customer_id: CustomerId
    decision: Literal["approve", "reject"]
    reason: Annotated[text.Lines, Field(min_length=1, max_length=500)]


class DecisionOut(BaseModel):
    change_request_id: str
    customer_id: str
    field: str
    status: str
    decided_at: str
    profile_version: int | None = None


class ExtensionIn(BaseModel):
    """A privacy officer's extension of a request's period: a declared reason code, never free text."""

    model_config = ConfigDict(extra="forbid")

    reason: Annotated[
        str,
        Field(
            min_length=1,
            max_length=40,
            pattern=r"^[a-z][a-z0-9_]{0,39}$",
            description="A declared reason the request's law admits (custody.declared.jurisdictions."
            "EXTENSION_REASONS): `complexity` or `volume`",
            examples=["complexity"],
        ),
    ]


class RequestEntry(BaseModel):
    """A data-subject request as the register shows it: ids, kind, status and dates, never personal data."""

    request_id: str
    kind: str
    subject_id: str | None = Field(description="The customer's opaque id")
    status: str
    reason: str | None = Field(description="An erasure's reason; null for other kinds")
    received_at: str
    jurisdiction: str | None = Field(description="The law its dates follow; null when nobody asked (retention)")
    due_at: str | None
    due_date: str | None
    extended: bool
    extension: dict[str, Any] | None = Field(description="The reason code, when, and the due date before it")
    completed_at: str | None
    outcome: str | None
    notices: dict[str, str] = Field(description="Each notice sent about it, and how it went")
    open: bool
    overdue: bool
    on_time: bool | None


class RequestsRegisterBody(BaseModel):
    """Open data-subject requests, soonest due first, and how many are overdue or due soon."""

    now: str
    due_within_days: int | None
    overdue: int
    due_soon: int = Field(description="Open requests due within `warning_days` (not yet overdue)")
    warning_days: int
    requests: list[RequestEntry]
