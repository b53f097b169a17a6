"""Request and response bodies of the `processors` routes."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from custody.subprocessors.registry import PROCESSOR_ID_PATTERN, Agreement, AgreementTerms


class AgreementIn(AgreementTerms):
    """The agreement's terms, and whether to replace the processor's request-signing secret."""

    rotate_signing_secret: bool = Field(
        default=False, description="Issue a new signing secret (https channel); the previous one is kept 7 days."
    )


class AgreementOut(Agreement):
    """The recorded agreement and, once, a newly issued signing secret (null when none was issued)."""

    signing_secret: str | None = Field(
        default=None, description="Shown only in the response that issued it: hand it to the processor securely."
    )


class AgreementList(BaseModel):
    processors: list[Agreement]


class DisclosureIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    processor_id: Annotated[str, Field(pattern=PROCESSOR_ID_PATTERN)]
    categories: Annotated[list[str], Field(min_length=1, max_length=20)]


class DisclosureOut(BaseModel):
    customer_id: str
    disclosure_key: str
    processor_id: str
    categories: list[str]
    agreement_version: str
    disclosed_by: str
    disclosed_at: str


class ErasureAckIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    processor_id: Annotated[str, Field(pattern=PROCESSOR_ID_PATTERN)]
    request_id: Annotated[str, Field(pattern=r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")]
    task_token: Annotated[str, Field(min_length=1, max_length=1024)]


class ErasureAckOut(BaseModel):
    request_id: str
    processor_id: str
    outcome: str
