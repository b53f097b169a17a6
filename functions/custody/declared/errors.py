"""Typed domain errors.

Handlers map every `CustodyError` to the JSON body `{"error": code, "message", "details"}`
with `status`. Messages and details never carry a value a customer submitted: they name
fields, purposes and ids, never contents.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, ClassVar


class CustodyError(Exception):
    """Base of every error a client may be shown."""

    status: ClassVar[int] = 500
    code: ClassVar[str] = "internal_error"

    def __init__(self, message: str, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details: dict[str, Any] = details or {}

    def to_body(self) -> dict[str, Any]:
        return {"error": self.code, "message": self.message, "details": self.details}


class InvalidInput(CustodyError):
    status = 422
    code = "invalid_input"


class MalformedRequest(CustodyError):
    status = 400
    code = "malformed_request"


class Unauthenticated(CustodyError):
    status = 401
    code = "unauthenticated"


class ReauthenticationRequired(CustodyError):
    status = 401
    code = "reauthentication_required"


class Forbidden(CustodyError):
    status = 403
    code = "forbidden"


class ConsentRequired(CustodyError):
    status = 403
    code = "consent_required"

    def __init__(self, missing: list[str]) -> None:
        super().__init__(
            "A granted purpose is required for this data.",
            {"missing": sorted(set(missing))},
        )


class NotFound(CustodyError):
    status = 404
    code = "not_found"


class Conflict(CustodyError):
    status = 409
    code = "conflict"


class PreconditionFailed(CustodyError):
    status = 412
    code = "precondition_failed"


class NotImplementedYet(CustodyError):
    """A route the API declares whose capability has not landed yet."""

    status = 501
    code = "not_implemented"


class ServiceBusy(CustodyError):
    """An AWS service the request needs kept failing (throttled, 5xx, unreachable) past botocore's retries.

    Answered 503 with `Retry-After`. A write that committed before a later call failed stands, so
    a client retries with the same `Idempotency-Key` where the route takes one.
    """

    status = 503
    code = "service_busy"
    retry_after_seconds: ClassVar[int] = 2


class SubjectKeyUnavailable(CustodyError):
    """The customer's data key is gone (crypto-shredded) or was never created."""

    status = 410
    code = "subject_key_unavailable"


class DecryptionFailed(CustodyError):
    """A ciphertext does not authenticate under this subject, store and field."""

    status = 500
    code = "decryption_failed"


UNDECLARED_FIELD = "has a field the schema does not declare"


def field_errors(errors: Iterable[Mapping[str, Any]], prefix: tuple[str, ...] = ()) -> dict[str, Any]:
    """Pydantic errors as `{"fields": [{"field", "reason"}]}`: the location and the reason only.

    The `input` and `ctx` pydantic attaches are dropped: a rejected value may be personal data. So
    is the name of a field the schema does not declare (it is the caller's text): the error is
    reported on the object that holds it.
    """
    fields = []
    for error in errors:
        parts = [str(part) for part in error.get("loc", ()) if part != "body"]
        reason = str(error.get("msg", "invalid"))
        if error.get("type") == "extra_forbidden":
            parts, reason = parts[:-1], UNDECLARED_FIELD
        location = [*prefix, *parts]
        fields.append({"field": ".".join(location) or "body", "reason": reason})
    return {"fields": fields}
