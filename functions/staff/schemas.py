"""Request and response bodies of the `staff` routes."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from custody.declared import holds
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
    restricted: bool | None = Field(
        default=None,
        description="Whether the customer restricted processing (GDPR art. 18); shown with one customer's"
        " requests, never the ground. The review goes on: verifying accuracy is what a restriction waits for",
    )


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


def _currency_code(value: str) -> str:
    """Three ASCII capital letters (the shape of an ISO 4217 code; whether ISO assigned it is not checked)."""
    if not (len(value) == 3 and value.isascii() and value.isalpha() and value.isupper()):
        raise ValueError("must be an ISO 4217 alphabetic code: three capital letters A-Z")
    return value


class InvoiceIn(BaseModel):
    """An invoice issued to the customer, kept under the tax-records obligation (sealed with its own key)."""

    model_config = ConfigDict(extra="forbid")

    grant_id: Annotated[str, Field(min_length=1, max_length=64)]
    invoice_number: Annotated[
        str,
        Field(
            pattern=r"^[A-Za-z0-9][A-Za-z0-9._/-]{0,39}$",
            description="The invoice's number as issued: letters, digits and . _ / -, at most 40",
            examples=["INV-2026-0042"],
        ),
    ]
    issued_on: Annotated[
        date,
        Field(
            description="The issue date (not in the future): the obligation's period counts from it",
            examples=["2026-11-30"],
        ),
    ]
    amount: Annotated[
        str,
        Field(
            pattern=r"^-?(0|[1-9][0-9]{0,11})(\.[0-9]{1,3})?$",
            description="The total, taxes included, in the currency's main unit, as a decimal string; negative for "
            "a credit note",
            examples=["120.50"],
        ),
    ]
    currency: Annotated[
        str,
        Field(
            min_length=3,
            max_length=3,
            description="An ISO 4217 alphabetic currency code: three capital letters A-Z",
            examples=["EUR"],
            json_schema_extra={"pattern": "^[A-Z]{3}$"},
        ),
        AfterValidator(_currency_code),
    ]
    line_summary: Annotated[
        text.Lines,
        Field(min_length=1, max_length=500, description="What was invoiced, in short", examples=["2 garden chairs"]),
    ]


class InvoiceOut(BaseModel):
    invoice_key: str
    created_at: str
    kept_until: str = Field(description="The last day the legal obligation keeps the invoice (YYYY-MM-DD)")
    obligation: str


class InvoicesPage(BaseModel):
    """A page of a customer's invoices under a grant that covers them: at most 1 MiB, oldest first."""

    customer_id: str
    grant_id: str
    purpose: str
    obligation: str
    legal_basis: str
    invoices: list[dict[str, Any]]
    count: int | None = Field(description="How many invoices the customer has; null on a page asked with a cursor")
    next_cursor: str | None = Field(description="The cursor of the next page; null when this page ends them")


class LegalHoldIn(BaseModel):
    """A legal hold: a declared reason, a ticket reference, the last day. Never free text."""

    model_config = ConfigDict(extra="forbid")

    reason_code: Annotated[
        str,
        Field(
            min_length=1,
            max_length=40,
            description="Why: one of the declared reason codes",
            json_schema_extra={"enum": sorted(holds.REASONS)},
            examples=["dispute"],
        ),
    ]
    ticket: Annotated[
        text.Text,
        Field(min_length=1, max_length=24, description="A ticket reference like LEG-1234", examples=["LEG-1234"]),
    ]
    until: Annotated[
        date,
        Field(
            description=f"The hold's last day (UTC), from today to {holds.MAX_HOLD_DAYS} days ahead; placed again "
            "to extend it",
            examples=["2027-06-30"],
        ),
    ]


class LegalHoldOut(BaseModel):
    customer_id: str
    reason_code: str
    until: str
    placed_at: str
    held_requests: int = Field(description="How many of the customer's erasure requests the hold holds now")


class LegalHoldLifted(BaseModel):
    customer_id: str
    lifted_at: str
    reason_code: str
    until: str
    released_requests: int = Field(description="How many held erasure requests were released and started")


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
    """Open data-subject requests, soonest due first, and how many are overdue or due soon.

    For a period of receipt (`received_since`..`received_until`): every request received in it, any status.
    """

    now: str
    due_within_days: int | None
    received_since: str | None = None
    received_until: str | None = None
    overdue: int
    due_soon: int = Field(description="Open requests due within `warning_days` (not yet overdue)")
    warning_days: int
    requests: list[RequestEntry]
