"""Request and response bodies of the `collect` routes (they also make its OpenAPI document)."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any, Final

from pydantic import BaseModel, ConfigDict, Field

from custody.customers.documents import MAX_BYTES
from custody.declared.restriction import Ground


class ConsentChannel(StrEnum):
    """Where the customer gave or withdrew consent (GDPR art. 7(1): the controller can show how)."""

    WEB = "web"
    MOBILE = "mobile"
    API = "api"


Purpose = Annotated[
    str,
    Field(min_length=1, max_length=80, pattern=r"^[a-z_]+(:[a-z0-9-]{1,60})?$", examples=["marketing"]),
]


class ConsentGrant(BaseModel):
    model_config = ConfigDict(extra="forbid")

    purpose: Purpose
    policy_version: Annotated[
        str, Field(min_length=1, max_length=32, pattern=r"^[A-Za-z0-9._-]+$", examples=["2026-11"])
    ]
    channel: ConsentChannel = ConsentChannel.API


class ErasureReference(BaseModel):
    request_id: str
    status: str
    status_url: str
    categories: list[str]


class ConsentState(BaseModel):
    purpose: str
    action: str
    at: str
    granted: list[str]
    erasure: ErasureReference | None = None


class RestrictionIn(BaseModel):
    """Why the customer restricts processing: one of GDPR art. 18(1)(a)-(d), as a code (no free text)."""

    model_config = ConfigDict(extra="forbid")

    ground: Ground = Field(
        description="accuracy_contested (art. 18(1)(a)), unlawful_processing (b), needed_for_legal_claims (c),"
        " objection_pending (d)"
    )


class RestrictionOut(BaseModel):
    """The customer's restriction of processing (GDPR art. 18) after the request."""

    restricted: bool
    ground: str | None = Field(description="The ground given, while restricted")
    article: str | None = Field(description="The provision the ground is, e.g. GDPR art. 18(1)(a)")
    since: str | None = Field(description="When the restriction began, while restricted")
    essential_purposes: list[str] = Field(
        description="Purposes that stay open while restricted: only they may gain new data or consent"
    )
    request_id: str | None = Field(
        default=None,
        description="The request this call restricted by, answered at once (GET /v1/requests/{request_id}); "
        "null when nothing changed",
    )


class ProfileView(BaseModel):
    """The stored profile as the customer sees it: the card only as brand and last four digits."""

    version: str
    categories: dict[str, dict[str, Any]]


# 4 bytes of base64 per 3 of content, padded: the longest text a document within the limit needs.
BASE64_OF_MAX_DOCUMENT: Final = 4 * -(-MAX_BYTES // 3)


class DocumentUpload(BaseModel):
    model_config = ConfigDict(extra="forbid")

    file_name: Annotated[str, Field(min_length=1, max_length=100, examples=["letter.pdf"])]
    content_type: Annotated[str, Field(min_length=1, max_length=100, examples=["application/pdf"])]
    content_base64: Annotated[
        str,
        Field(
            min_length=1,
            max_length=BASE64_OF_MAX_DOCUMENT,
            description=f"The document in base64 (RFC 4648): at most {MAX_BYTES} bytes, {BASE64_OF_MAX_DOCUMENT} chars",
        ),
    ]


class DocumentReceipt(BaseModel):
    document_id: str
    size_bytes: int
    uploaded_at: str
