"""Typed domain errors.

Handlers map every `CustodyError` to the JSON body `{"error": code, "message", "details"}`
with `status`. Messages and details never carry a value a customer submitted: they name
fields, purposes and ids, never contents.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, ClassVar


class CustodyError(Exception):
    """Base of every error a client may be shown.

    `message` is a sentence for the client; `details` a JSON-able dict of names and ids (empty when
    None). Neither carries a value the customer submitted.
    """

    status: ClassVar[int] = 500
    code: ClassVar[str] = "internal_error"

    def __init__(self, message: str, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details: dict[str, Any] = details or {}

    def to_body(self) -> dict[str, Any]:
        """The JSON body of this error: `{"error": code, "message": message, "details": details}`."""
        return {"error": self.code, "message": self.message, "details": self.details}


class InvalidInput(CustodyError):
    """The request is readable but breaks the API's schema or a domain rule (422).

    `details` is usually `{"fields": [{"field", "reason"}]}` (`field_errors`): names and reasons, never
    the value sent. Raised for a profile, document, change request, agreement, grant or disclosure that
    does not validate, and for a missing or malformed `Idempotency-Key` where a route needs one.
    """

    status = 422
    code = "invalid_input"


class MalformedRequest(CustodyError):
    """The request cannot be read at all: a body that is not JSON, not UTF-8, or nested too deeply (400).

    `custody.api.http` answers these before any domain code runs, with this class's code; the class
    declares the code so the audit grammar and the OpenAPI document know it. A paging `cursor` the
    API did not issue for the store asked is one too (`custody.platform.paging.decode`, `details`
    `{"parameter": "cursor", "reason"}`).
    """

    status = 400
    code = "malformed_request"


class Unauthenticated(CustodyError):
    """No valid token for the route (401).

    Raised by `custody.access_control` when the authorizer's claims are missing, the token comes from
    another user pool or app client, is of the wrong `token_use`, names no UUID subject or is dated in
    the future, or is not of the audience a staff or processor operation needs.
    """

    status = 401
    code = "unauthenticated"


class ReauthenticationRequired(CustodyError):
    """An irreversible request needs a recent sign-in (401); `details` is `{"max_age_seconds": n}`.

    Raised by `custody.api.http.require_recent_sign_in` (the withdrawal) when the token's `auth_time` is
    older than the allowed age.
    """

    status = 401
    code = "reauthentication_required"


class Forbidden(CustodyError):
    """The caller is known but may not do this (403).

    Raised for a staff group or OAuth scope the route does not admit, an action reserved to the privacy
    officer, any write to an account that is being erased, staff access without a usable grant or to a
    customer who is not active, and a sub-processor acting outside its agreement or with a task token
    not issued to it. `details` may name the groups, scopes or a `reason`
    code.
    """

    status = 403
    code = "forbidden"


class ProcessingRestricted(Forbidden):
    """The customer has restricted the processing of their data (GDPR art. 18): this is not allowed now (403).

    Raised for staff grants, their approval and reads under them, interactions and disclosures to
    sub-processors while the customer is restricted, and for the customer's own new collection for (or new
    grant of) a purpose that is not essential (`datamap.Purpose.essential`). `details` is
    `{"restricted": true}`, with `"purposes"` (the non-essential purposes refused) for the customer's own
    requests; never the ground the customer gave.
    """

    code = "processing_restricted"

    def __init__(self, message: str | None = None, purposes: list[str] | None = None) -> None:
        details: dict[str, Any] = {"restricted": True}
        if purposes:
            details["purposes"] = sorted(set(purposes))
        super().__init__(message or "The customer has restricted the processing of their data (GDPR art. 18).", details)


class ConsentRequired(CustodyError):
    """The data needs a purpose the customer has not granted (403): consent is its legal basis.

    GDPR art. 6(1)(a), and art. 9(2)(a) for the special categories (health). Built from the missing
    purposes; `details` is `{"missing": [purpose, ...]}`, sorted and without
    duplicates.
    """

    status = 403
    code = "consent_required"

    def __init__(self, missing: list[str]) -> None:
        super().__init__(
            "A granted purpose is required for this data.",
            {"missing": sorted(set(missing))},
        )


class NotFound(CustodyError):
    """No such resource for this caller (404).

    Raised for a document, a granted purpose, a change request, a grant or a notification the caller
    cannot reach.
    """

    status = 404
    code = "not_found"


class Conflict(CustodyError):
    """The request collides with the record's state (409).

    Raised when an `Idempotency-Key` is still in flight, a grant or change request was already decided,
    a notification no longer awaits an acknowledgement or its deadline passed, the customer is already
    being erased for another reason or was active again, or a write kept losing races with other
    requests.
    """

    status = 409
    code = "conflict"


class PreconditionFailed(CustodyError):
    """The profile changed since the version the client named in `If-Match` (412): nothing is written."""

    status = 412
    code = "precondition_failed"


class NotImplementedYet(CustodyError):
    """A route the API declares whose capability has not landed yet."""

    status = 501
    code = "not_implemented"


class TooManyRequests(CustodyError):
    """The customer reached a per-customer limit (e.g. exports per day); answered 429 with `Retry-After`.

    `retry_after_seconds`: when the oldest request counted against the limit leaves its window.
    """

    status = 429
    code = "too_many_requests"

    def __init__(self, message: str, retry_after_seconds: int, details: dict[str, Any] | None = None) -> None:
        super().__init__(message, details)
        self.retry_after_seconds = max(1, retry_after_seconds)


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

MAX_FIELD_ERRORS = 50
"""At most this many `{"field", "reason"}` pairs in one error body; the rest are counted.

A body of a million undeclared or invalid fields must not become an error larger than Lambda's
6 MB response (a 502 from API Gateway): the caller learns the first fields to fix and how many
more there are.
"""


def field_errors(errors: Iterable[Mapping[str, Any]], prefix: tuple[str, ...] = ()) -> dict[str, Any]:
    """Pydantic errors as `{"fields": [{"field", "reason"}]}`: the location and the reason only.

    The `input` and `ctx` pydantic attaches are dropped: a rejected value may be personal data. So
    is the name of a field the schema does not declare (it is the caller's text): the error is
    reported on the object that holds it. Identical pairs are reported once, and at most
    `MAX_FIELD_ERRORS` of them; when more were found, `"more"` holds how many were left out.
    """
    fields: list[dict[str, str]] = []
    seen: set[tuple[str, str]] = set()
    more = 0
    for error in errors:
        parts = [str(part) for part in error.get("loc", ()) if part != "body"]
        reason = str(error.get("msg", "invalid"))
        if error.get("type") == "extra_forbidden":
            parts, reason = parts[:-1], UNDECLARED_FIELD
        field = ".".join([*prefix, *parts]) or "body"
        if (field, reason) in seen:
            continue
        seen.add((field, reason))
        if len(fields) < MAX_FIELD_ERRORS:
            fields.append({"field": field, "reason": reason})
        else:
            more += 1
    return {"fields": fields, "more": more} if more else {"fields": fields}
