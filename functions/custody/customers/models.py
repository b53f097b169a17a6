"""The customer-facing shapes of personal data, validated for accuracy.

One model per data-map category. Every field is optional at parse time so that the same
models serve `PUT` (a whole profile) and `PATCH` (a part of it): the domain merges a patch into
the stored category and then calls `ensure_complete()` on the result, so a category is never
stored without what it requires, however it arrived.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from enum import StrEnum
from typing import Annotated, ClassVar

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_core import InitErrorDetails, PydanticCustomError

from custody.customers import validation
from custody.platform import text


def _today() -> date:
    return datetime.now(UTC).date()


# NFC first, so that the length limit counts the characters a name has however it was typed.
Name = Annotated[
    str,
    BeforeValidator(text.nfc),
    Field(
        min_length=1,
        max_length=120,
        description="Letters of any script with their marks; spaces, hyphens, apostrophes, periods between words. "
        "Stored NFC.",
        examples=["Nguyễn Văn An", "अनिल कुमार", "مُحَمَّد عَلِيّ", "Ann O'Brien-Lee"],
    ),
    AfterValidator(validation.check_name),
]
# Address text is matched against the national postal data, which is NFC.
AddressText = Annotated[text.Text, Field(min_length=1, max_length=200)]
Interest = Annotated[text.Text, Field(min_length=1, max_length=50)]


class Strict(BaseModel):
    """Base of the category models: unknown fields refused, surrounding whitespace stripped, frozen.

    `REQUIRED` names the fields a stored category must have (`missing`); parsing alone requires none, so
    a patch may carry a part.
    """

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, frozen=True)

    REQUIRED: ClassVar[tuple[str, ...]] = ()

    def missing(self) -> list[str]:
        """The names of `REQUIRED` fields that are unset: empty when the category may be stored."""
        return [name for name in self.REQUIRED if getattr(self, name) is None]


class Identity(Strict):
    """The `identity` category: legal and preferred names and the birth date; the legal name is required.

    `legal_name` and `birth_date` are verified fields (changed by a reviewed change request). A name is
    letters and marks of any script, stored NFC (`validation.check_name`). A birth date must lie in the
    past, at most 130 years ago and at least 16 (`validation.check_birth_date`).
    """

    REQUIRED = ("legal_name",)

    legal_name: Name | None = None
    preferred_name: Name | None = None
    birth_date: Annotated[date, Field(description="ISO 8601, ASCII digits", examples=["1990-02-03"])] | None = None

    @field_validator("birth_date")
    @classmethod
    def _plausible(cls, value: date | None) -> date | None:
        return None if value is None else validation.check_birth_date(value, _today())


class Address(Strict):
    """A postal address within `contact`, held to its country's rules in Google's address data.

    The rules are the fields an address there requires and allows, the choices for its region and
    city, and the pattern of its postal code (`validation.normalise_address`). A refusal names the
    field; a region or city with choices is stored as the data's key for it.
    """

    line1: Annotated[AddressText, Field(examples=["1600 Amphitheatre Parkway"])]
    line2: AddressText | None = None
    city: Annotated[AddressText, Field(max_length=100, examples=["Mountain View"])] | None = None
    region: (
        Annotated[
            AddressText,
            Field(
                max_length=100,
                description="State, province, prefecture... where the country's addresses have one: its code or "
                "name; stored as the postal data's key (California is CA)",
                examples=["CA"],
            ),
        ]
        | None
    ) = None
    postal_code: (
        Annotated[
            text.Text,
            Field(
                min_length=2,
                max_length=16,
                description="In the country's (and region's) pattern; digits of any script are stored as ASCII",
                examples=["94043"],
            ),
        ]
        | None
    ) = None
    country: Annotated[
        str,
        Field(min_length=2, max_length=2, description="ISO 3166-1 alpha-2, in capitals", examples=["US"]),
        AfterValidator(validation.check_country),
    ]

    @model_validator(mode="after")
    def _fits_country(self) -> Address:
        try:
            found = validation.normalise_address(
                self.country, self.line1, city=self.city, region=self.region, postal_code=self.postal_code
            )
        except validation.AddressInvalid as error:
            raise ValidationError.from_exception_data(
                "Address",
                [
                    InitErrorDetails(type=PydanticCustomError("address", reason), loc=(name,), input=None)
                    for name, reason in error.reasons.items()
                ],
            ) from None
        return self.model_copy(update=found)


class Contact(Strict):
    """The `contact` category: a phone number (stored E.164), a postal address, or both (one to be stored)."""

    phone: (
        Annotated[
            str,
            Field(
                max_length=64,
                description="International form, + and the country code; stored as E.164",
                examples=["+14155550123", "+84 91 234 56 78"],
            ),
            AfterValidator(validation.normalise_phone),
        ]
        | None
    ) = None
    address: Address | None = None

    def missing(self) -> list[str]:
        """`["phone|address"]` when neither is set (one of them is required), else empty."""
        return [] if self.phone or self.address else ["phone|address"]


class ContactChannel(StrEnum):
    """A channel the customer agrees to be contacted through for marketing."""

    EMAIL = "email"
    SMS = "sms"
    PHONE = "phone"
    POST = "post"
    PUSH = "push"


class Preferences(Strict):
    """The `preferences` category (purpose `marketing`): channels, up to 20 interests and a BCP 47 language tag.

    Neither list may repeat an entry. The language tag is stored standardized (`validation.normalise_language`).
    """

    channels: Annotated[list[ContactChannel], Field(max_length=len(ContactChannel))] | None = None
    interests: (
        Annotated[list[Annotated[text.Text, Field(min_length=1, max_length=50)]], Field(max_length=20)] | None
    ) = None
    language: (
        Annotated[
            str,
            Field(max_length=35, description="A BCP 47 language tag; stored standardized", examples=["pt-BR", "vi"]),
            AfterValidator(validation.normalise_language),
        ]
        | None
    ) = None

    @field_validator("channels", "interests")
    @classmethod
    def _no_duplicates(cls, value: list[str] | None) -> list[str] | None:
        if value is not None and len(set(value)) != len(value):
            raise ValueError("must not repeat an entry")
        return value


class Payment(Strict):
    """The `payment` category (purpose `payments`): a card, its expiry and holder; every field is required.

    The card number is stored as its ASCII digits only and must pass the Luhn check; a card whose expiry
    month has passed is refused.
    """

    REQUIRED = ("card_number", "expiry_month", "expiry_year", "holder_name")

    card_number: (
        Annotated[
            str,
            Field(
                max_length=23,
                description="12 to 19 digits (Luhn), spaces or hyphens between; digits of any script stored as ASCII",
                examples=["4111 1111 1111 1111"],
            ),
            AfterValidator(validation.normalise_card_number),
        ]
        | None
    ) = None
    expiry_month: Annotated[int, Field(ge=1, le=12)] | None = None
    expiry_year: Annotated[int, Field(ge=2000, le=2100)] | None = None
    holder_name: Name | None = None

    @model_validator(mode="after")
    def _not_expired(self) -> Payment:
        if self.expiry_month is not None and self.expiry_year is not None:
            validation.check_expiry(self.expiry_month, self.expiry_year, _today())
        return self


class Severity(StrEnum):
    """How severe an allergy is."""

    MILD = "mild"
    MODERATE = "moderate"
    SEVERE = "severe"


class Condition(Strict):
    """A health condition: its name, an optional ICD-10 code (e.g. `E11.9`) and since when (not in the future)."""

    name: Annotated[text.Text, Field(min_length=1, max_length=100)]
    code: Annotated[str, Field(pattern=r"^[A-Z][0-9][0-9A-Z](\.[0-9A-Z]{1,4})?$")] | None = Field(
        default=None, description="ICD-10 code, e.g. E11.9"
    )
    since: date | None = None

    @field_validator("since")
    @classmethod
    def _not_in_future(cls, value: date | None) -> date | None:
        if value is not None and value > _today():
            raise ValueError("cannot be in the future")
        return value


class Allergy(Strict):
    """An allergy: the substance, the reaction and its severity."""

    substance: Annotated[text.Text, Field(min_length=1, max_length=100)]
    reaction: Annotated[text.Text, Field(min_length=1, max_length=200)] | None = None
    severity: Severity | None = None


class Health(Strict):
    """The `health` category (purpose `health_services`): conditions and allergies, up to 50 each.

    Health data is a special category of personal data (GDPR art. 9).
    """

    conditions: Annotated[list[Condition], Field(max_length=50)] | None = None
    allergies: Annotated[list[Allergy], Field(max_length=50)] | None = None


CATEGORY_MODELS: dict[str, type[Strict]] = {
    "identity": Identity,
    "contact": Contact,
    "preferences": Preferences,
    "payment": Payment,
    "health": Health,
}


class Profile(Strict):
    """`PUT /v1/me/profile` and `PATCH /v1/me/profile`: categories of the data map by name."""

    identity: Identity | None = None
    contact: Contact | None = None
    preferences: Preferences | None = None
    payment: Payment | None = None
    health: Health | None = None

    def categories(self) -> dict[str, Strict]:
        """The categories present in the request, by name (`CATEGORY_MODELS` order); absent ones are left out."""
        return {name: value for name in CATEGORY_MODELS if (value := getattr(self, name)) is not None}
