"""The `subject_access` function: the access report, documents, change requests and request status."""

from __future__ import annotations

import re
from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Header, Path, Query

from custody.api.http import build_resolver, caller, entrypoint, subject_id
from custody.customers.access_report import AccessReport
from custody.customers.change_requests import ChangeRequests
from custody.customers.documents import DocumentStore
from custody.customers.exports import Exports
from custody.declared import workflow
from custody.declared.errors import NotFound
from custody.declared.settings import get_settings
from custody.platform import idempotency
from custody.platform.observability import observability
from custody.stores.requests import RequestsTable, status_view
from custody.stores.subjects import SubjectRegistry
from subject_access.schemas import (
    AccessReportBody,
    ChangeRequestIn,
    ChangeRequestList,
    ChangeRequestOut,
    ChangeRequestReceipt,
    ExportBody,
    ExportList,
    RequestStatusBody,
    StorePageBody,
)

obs = observability("subject_access")
app = build_resolver("subject_access")

IdempotencyKey = Annotated[
    str | None,
    Header(alias=idempotency.HEADER, description="Your unique token: a retry with it replays the first response"),
]

_REQUEST_ID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def _email() -> str | None:
    """The caller's verified sign-in address (the ID token's `email` claim): where their notices go."""
    email = caller(app).claims.get("email")
    return str(email) if email else None


@app.get("/v1/me")
def access_report() -> AccessReportBody:
    report = AccessReport(get_settings()).build(subject_id(app), _email())
    obs.metrics.add_metric(name="AccessReports", unit="Count", value=1)
    return AccessReportBody.model_validate(report)


@app.get("/v1/me/stores/<store>")
def store_page(
    store: Annotated[str, Path(max_length=64, description="A personal store of the data map, as the report names it")],
    cursor: Annotated[
        str | None, Query(description="The `next_cursor` of the page before; none for the first page")
    ] = None,
) -> StorePageBody:
    page = AccessReport(get_settings()).page(subject_id(app), store, cursor)
    return StorePageBody.model_validate(page)


@app.get("/v1/me/documents/<document_id>")
def download_document(document_id: Annotated[str, Path(max_length=64)]) -> Response[bytes]:
    document, content = DocumentStore(get_settings()).download(subject_id(app), document_id)
    return Response(
        status_code=200,
        content_type=document.content_type,
        body=content,
        headers={"Content-Disposition": f'attachment; filename="{document.file_name}"', "Cache-Control": "no-store"},
    )


@app.post("/v1/me/change-requests", responses={201: {"description": "Change request opened for review"}})
def open_change_request(
    request: ChangeRequestIn, idempotency_key: IdempotencyKey = None
) -> Response[ChangeRequestReceipt]:
    settings, subject, email = get_settings(), subject_id(app), _email()  # read now: the context is the call's

    def work() -> ChangeRequestReceipt:
        opened = ChangeRequests(settings).open(subject, request.field, request.value, request.reason, email)
        return ChangeRequestReceipt.model_validate(opened)

    receipt = idempotency.once(
        settings,
        app.lambda_context,
        "open_change_request",
        subject,
        idempotency_key,
        ChangeRequestReceipt,
        work,
        admit=lambda: SubjectRegistry(settings).load(subject).ensure_active(),
    )
    return Response(status_code=201, content_type="application/json", body=receipt)


@app.get("/v1/me/change-requests")
def list_change_requests() -> ChangeRequestList:
    found = ChangeRequests(get_settings()).list(subject_id(app))
    return ChangeRequestList(change_requests=[ChangeRequestOut.model_validate(item) for item in found])


@app.post(
    "/v1/me/exports",
    responses={
        202: {"description": "Export started, or the one in progress"},
        429: {"description": "The daily export limit is reached; see Retry-After"},
    },
)
def request_export(idempotency_key: IdempotencyKey = None) -> Response[ExportBody]:
    settings, subject, email = get_settings(), subject_id(app), _email()  # read now: the context is the call's

    def work() -> ExportBody:
        view, _ = Exports(settings).request(subject, email)
        return ExportBody.model_validate(view)

    body = idempotency.once(
        settings,
        app.lambda_context,
        "request_export",
        subject,
        idempotency_key,
        ExportBody,
        work,
        admit=lambda: SubjectRegistry(settings).load(subject).ensure_active(),
    )
    obs.metrics.add_metric(name="ExportsRequested", unit="Count", value=1)
    return Response(status_code=202, content_type="application/json", body=body, headers={"Cache-Control": "no-store"})


@app.get("/v1/me/exports")
def list_exports() -> ExportList:
    found = Exports(get_settings()).list(subject_id(app))
    return ExportList(exports=[ExportBody.model_validate(item) for item in found])


@app.get("/v1/me/exports/<export_id>")
def export_status(export_id: Annotated[str, Path(max_length=64)]) -> Response[ExportBody]:
    view = Exports(get_settings()).status(subject_id(app), export_id)
    return Response(
        status_code=200,
        content_type="application/json",
        body=ExportBody.model_validate(view),
        headers={"Cache-Control": "no-store"},
    )


@app.get("/v1/requests/<request_id>")
def request_status(request_id: Annotated[str, Path(max_length=64)]) -> RequestStatusBody:
    found: dict[str, Any] | None = None
    if _REQUEST_ID.fullmatch(request_id):
        found = RequestsTable(get_settings()).load(request_id)
    if found is None:
        raise NotFound("No such request.")
    return RequestStatusBody.model_validate(status_view(found, workflow.MILESTONES))


lambda_handler = entrypoint(app, obs)
