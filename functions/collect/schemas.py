"""Request and response bodies of the `collect` routes (they also make its OpenAPI document)."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field


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


class ProfileView(BaseModel):
    """The stored profile as the customer sees it: the card only as brand and last four digits."""

    version: str
    categories: dict[str, dict[str, Any]]


class DocumentUpload(BaseModel):
    model_config = ConfigDict(extra="forbid")

    file_name: Annotated[str, Field(min_length=1, max_length=100, examples=["letter.pdf"])]
    content_type: Annotated[str, Field(min_length=1, max_length=100, examples=["application/pdf"])]
    content_base64: Annotated[str, Field(min_length=1, max_length=6 * 1024 * 1024)]


class DocumentReceipt(BaseModel):
    document_id: str
    size_bytes: int
    uploaded_at: str
