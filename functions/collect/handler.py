"""The `collect` function: consents, the profile and documents — the only way personal data comes in."""

from __future__ import annotations

import time
from typing import Annotated

from aws_lambda_powertools.event_handler import Response, content_types
from aws_lambda_powertools.event_handler.openapi.params import Header, Path

from collect.schemas import (
    ConsentGrant,
    ConsentState,
    DocumentReceipt,
    DocumentUpload,
    ErasureReference,
    ProfileView,
    RestrictionIn,
    RestrictionOut,
)
from custody.api.http import build_resolver, caller, entrypoint, require_recent_sign_in, subject_id
from custody.customers.consent import ConsentChange, ConsentLedger
from custody.customers.documents import DocumentStore, check_upload
from custody.customers.models import Profile
from custody.customers.profile import ProfileService, StoredProfile
from custody.customers.restriction import Restrictions
from custody.declared import datamap
from custody.declared.settings import get_settings
from custody.platform import idempotency
from custody.platform.observability import observability
from custody.stores.subjects import SubjectRegistry

obs = observability("collect")
app = build_resolver("collect")

IfMatch = Annotated[str | None, Header(alias="If-Match", description="The ETag of the profile you read")]
IdempotencyKey = Annotated[
    str | None,
    Header(alias=idempotency.HEADER, description="Your unique token: a retry with it replays the first response"),
]


def _consent_state(change: ConsentChange) -> ConsentState:
    erasure = None
    if change.erasure is not None:
        erasure = ErasureReference(
            request_id=change.erasure.request_id,
            status=change.erasure.status.value,
            status_url=change.erasure.status_url(),
            categories=list(change.erasure.scope),
        )
    return ConsentState(
        purpose=change.purpose, action=change.action.value, at=change.at, granted=list(change.granted), erasure=erasure
    )


def _profile_response(stored: StoredProfile, status: int = 200) -> Response[ProfileView]:
    return Response(
        status_code=status,
        content_type=content_types.APPLICATION_JSON,
        body=ProfileView(version=stored.etag, categories=stored.view()),
        headers={"ETag": stored.etag},
    )


@app.post("/v1/me/consents", responses={201: {"description": "Consent granted"}})
def grant_consent(grant: ConsentGrant, idempotency_key: IdempotencyKey = None) -> Response[ConsentState]:
    settings, subject = get_settings(), subject_id(app)

    def work() -> ConsentState:
        change = ConsentLedger(settings).grant(subject, grant.purpose, grant.policy_version, grant.channel.value)
        obs.metrics.add_metric(name="ConsentGranted", unit="Count", value=1)
        return _consent_state(change)

    state = idempotency.once(
        settings,
        app.lambda_context,
        "grant_consent",
        subject,
        idempotency_key,
        ConsentState,
        work,
        admit=lambda: SubjectRegistry(settings).load(subject).ensure_active(),
    )
    return Response(status_code=201, content_type=content_types.APPLICATION_JSON, body=state)


@app.delete("/v1/me/consents/<purpose>")
def withdraw_consent(purpose: Annotated[str, Path(max_length=80)]) -> ConsentState:
    if purpose == datamap.CRM_CORE:
        require_recent_sign_in(app, time.time())
    email = caller(app).claims.get("email")  # the verified address an erasure's receipt notice goes to
    change = ConsentLedger(get_settings()).withdraw(subject_id(app), purpose, "api", str(email) if email else None)
    obs.metrics.add_metric(name="ConsentWithdrawn", unit="Count", value=1)
    return _consent_state(change)


@app.post(
    "/v1/me/objections/<purpose>",
    responses={201: {"description": "Objection recorded; the purpose stopped (GDPR art. 21)"}},
)
def object_to_purpose(purpose: Annotated[str, Path(max_length=80)]) -> Response[ConsentState]:
    email = caller(app).claims.get("email")  # the verified address an erasure's receipt notice goes to
    change = ConsentLedger(get_settings()).object(subject_id(app), purpose, "api", str(email) if email else None)
    obs.metrics.add_metric(name="ObjectionsRecorded", unit="Count", value=1)
    return Response(status_code=201, content_type=content_types.APPLICATION_JSON, body=_consent_state(change))


@app.post(
    "/v1/me/restriction",
    responses={
        201: {"description": "Processing restricted (GDPR art. 18)"},
        200: {"description": "Already restricted on this ground: nothing changed"},
    },
)
def restrict_processing(body: RestrictionIn) -> Response[RestrictionOut]:
    email = caller(app).claims.get("email")  # the verified address the restriction's notice goes to
    state = Restrictions(get_settings()).restrict(subject_id(app), body.ground, "api", str(email) if email else None)
    if state.changed:
        obs.metrics.add_metric(name="RestrictionsApplied", unit="Count", value=1)
    return Response(
        status_code=201 if state.changed else 200,
        content_type=content_types.APPLICATION_JSON,
        body=RestrictionOut.model_validate(state.view()),
    )


@app.delete("/v1/me/restriction")
def lift_restriction() -> RestrictionOut:
    state = Restrictions(get_settings()).lift(subject_id(app))
    obs.metrics.add_metric(name="RestrictionsLifted", unit="Count", value=1)
    return RestrictionOut.model_validate(state.view())


@app.put("/v1/me/profile")
def put_profile(profile: Profile, if_match: IfMatch = None) -> Response[ProfileView]:
    stored = ProfileService(get_settings()).put(subject_id(app), profile, if_match)
    return _profile_response(stored)


@app.patch("/v1/me/profile")
def patch_profile(changes: Profile, if_match: IfMatch = None) -> Response[ProfileView]:
    stored = ProfileService(get_settings()).patch(subject_id(app), changes, if_match)
    return _profile_response(stored)


@app.post("/v1/me/documents", responses={201: {"description": "Document stored"}})
def upload_document(upload: DocumentUpload, idempotency_key: IdempotencyKey = None) -> Response[DocumentReceipt]:
    content = check_upload(upload.file_name, upload.content_type, upload.content_base64)
    settings, subject = get_settings(), subject_id(app)

    def work() -> DocumentReceipt:
        document = DocumentStore(settings).upload(
            subject,
            upload.file_name,
            upload.content_type,
            content,
            remaining_ms=app.lambda_context.get_remaining_time_in_millis(),
        )
        return DocumentReceipt(
            document_id=document.document_id, size_bytes=document.size_bytes, uploaded_at=document.uploaded_at
        )

    receipt = idempotency.once(
        settings,
        app.lambda_context,
        "upload_document",
        subject,
        idempotency_key,
        DocumentReceipt,
        work,
        admit=lambda: SubjectRegistry(settings).load(subject).ensure_active(),
    )
    return Response(status_code=201, content_type=content_types.APPLICATION_JSON, body=receipt)


lambda_handler = entrypoint(app, obs)
