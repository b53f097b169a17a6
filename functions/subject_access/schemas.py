"""Request and response bodies of the `subject_access` routes."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

from custody.platform import text


class AccountState(BaseModel):
    status: str
    created_at: str | None
    last_active_at: str | None


class RestrictionState(BaseModel):
    """The customer's restriction of processing (GDPR art. 18), while it lasts."""

    ground: str = Field(description="The ground given: accuracy_contested, unlawful_processing, ...")
    article: str | None = Field(description="The provision the ground is, e.g. GDPR art. 18(1)(a)")
    since: str | None = Field(description="When the restriction began")


class LegalHoldState(BaseModel):
    """A legal hold a privacy officer placed on the customer's data, while it lasts: why (a code) and until when."""

    reason_code: str = Field(description="The declared reason: litigation, dispute, regulatory_investigation, ...")
    provision: str = Field(description="The provision that allows keeping the data, e.g. GDPR art. 17(3)(e)")
    until: str = Field(description="The hold's last day (YYYY-MM-DD): an erasure you ask for starts after it")


class StorePage(BaseModel):
    """One page of one store: its items, how many the store holds, and the cursor of the next page.

    The items are under `items`, except the profile's (`categories`, a map by category, with the
    profile's `version`) and the consents' (`history`, with the purposes `granted` now). A page is at
    most 256 KiB (in the report) or 1 MiB (on its own route) as sent, and holds at least one item.
    """

    model_config = ConfigDict(extra="allow")

    count: int | None = Field(
        description="How many items the store holds for you; null on a page asked for with a cursor"
    )
    next_cursor: str | None = Field(
        description="Pass as `cursor` to GET /v1/me/stores/{store} for the next page;"
        " null when this page ends the store"
    )


class StorePageBody(StorePage):
    """A page of one store from `GET /v1/me/stores/{store}`."""

    store: str


class Deadline(BaseModel):
    """When a request was received and is due, whether its period was extended, how it ended, its notices."""

    received_at: str
    jurisdiction: str | None = Field(
        default=None, description="The law its due date follows (gdpr, ccpa, default); null when nobody asked for it"
    )
    due_at: str | None = Field(default=None, description="The end of the day it is due (UTC)")
    due_date: str | None = None
    extended: bool = False
    extension: dict[str, Any] | None = Field(
        default=None, description="Once at most: the declared reason, when, and the due date before it"
    )
    completed_at: str | None = None
    outcome: str | None = None
    notices: dict[str, str] = Field(default_factory=dict, description="Each notice about it, and how it went")


class RetainedRecords(BaseModel):
    """Records a full erasure kept because a legal obligation requires them: what, why and until when."""

    category: str
    obligation: str
    legal_basis: str
    until: str = Field(description="The last day they are kept (YYYY-MM-DD); they are erased after it")


class RequestStatusBody(Deadline):
    """A request's progress and dates: ids, statuses, counts — never personal data.

    An erasure counts its workflow's steps and, once complete, its certificate's digest.
    """

    request_id: str
    kind: str = Field(description="access, rectification, erasure or restriction")
    reason: str | None = Field(default=None, description="An erasure's reason; null for other kinds")
    status: str = Field(
        description="received, in_progress, completed, failed; held while a legal hold pauses an erasure"
    )
    created_at: str
    updated_at: str
    steps_done: int = 0
    steps_total: int = 0
    certificate_digest: str | None = None
    unrecoverable_after: str | None = Field(
        default=None,
        description="Once certified with the keys shredded: after this no copy, backups included, can be read",
    )
    on_hold_until: str | None = Field(
        default=None, description="While held: the legal hold's last day (YYYY-MM-DD); the erasure starts after it"
    )
    hold_reason: str | None = Field(default=None, description="While held: the hold's declared reason code")
    retained: list[RetainedRecords] = Field(
        default_factory=list,
        description="What the erasure keeps under a legal obligation (GDPR art. 17(3)(b)), why, and until when",
    )


class RequestSummary(Deadline):
    """One of the customer's open requests, as `GET /v1/me` lists it."""

    request_id: str
    kind: str
    status: str
    reason: str | None = None
    open: bool
    overdue: bool
    on_time: bool | None = None
    status_url: str


class AccessReportBody(BaseModel):
    """Everything CRM Custody holds about the customer, decrypted, by data-map store: each store's first page."""

    report_version: str
    generated_at: str
    subject_id: str
    email: str | None = Field(description="The verified sign-in address, held by the identity provider")
    account: AccountState
    restriction: RestrictionState | None = Field(
        default=None, description="Set while you restrict processing (POST /v1/me/restriction); null otherwise"
    )
    legal_hold: LegalHoldState | None = Field(
        default=None, description="Set while a legal hold lies on your data (it pauses erasure); null otherwise"
    )
    stores: dict[str, StorePage] = Field(
        description="One entry per data-map store that holds personal data: its first page, count and cursor"
    )
    retention: dict[str, dict[str, Any]] = Field(description="Per category: purposes, store, retention")
    open_requests: list[dict[str, Any]]
    requests: list[RequestSummary] = Field(
        default_factory=list,
        description="Your open requests of every kind: when each was received and is due, and if it was extended",
    )


class ChangeRequestIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    field: Annotated[str, Field(min_length=1, max_length=40, examples=["legal_name"])]
    value: Annotated[
        str,
        Field(
            min_length=1,
            max_length=200,
            description="The new value, held to the field's own rules (a legal name: letters of any script)",
            examples=["अनिल कुमार"],
        ),
    ]
    reason: Annotated[text.Lines, Field(min_length=1, max_length=500, examples=["My name as my passport writes it"])]


class ChangeRequestOut(BaseModel):
    change_request_id: str
    field: str
    value: Any
    reason: str | None
    status: str
    created_at: str
    decided_at: str | None = None
    decision_reason: str | None = None


class ChangeRequestReceipt(BaseModel):
    """What opening a change request returns: no value is echoed (responses may be replayed from storage)."""

    change_request_id: str
    field: str
    status: str
    created_at: str


class ChangeRequestList(BaseModel):
    change_requests: list[ChangeRequestOut]


class ExportDownload(BaseModel):
    """A short-lived link to the archive: a presigned S3 URL of exactly this export's object version."""

    url: str = Field(description="GET it (no token: the URL carries its own signature) before expires_at")
    expires_at: str


class ExportBody(BaseModel):
    """An export of everything held about the customer: ids, statuses, counts and digests, and the link when ready."""

    export_id: str
    status: str = Field(description="queued, running, ready, failed, expired or superseded (consents moved since)")
    created_at: str
    updated_at: str
    expires_at: str = Field(description="When the archive is deleted (the exports bucket's lifecycle rule)")
    status_url: str
    size_bytes: int | None = None
    manifest_sha256: str | None = Field(default=None, description="SHA-256 of the archive's manifest.json")
    counts: dict[str, int] | None = Field(default=None, description="Items per store, files and bytes of the archive")
    failure: str | None = Field(default=None, description="Why it failed: an error class or `timed_out`, no detail")
    download: ExportDownload | None = None


class ExportList(BaseModel):
    exports: list[ExportBody]
