"""The `staff` function: need-to-know grants, staff views, interactions, change-request reviews, the register."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Path, Query

from custody.access_control.principals import StaffMember, staff_member
from custody.api.http import build_resolver, caller, entrypoint
from custody.declared import clock
from custody.declared.settings import get_settings
from custody.platform.observability import observability
from custody.staff_access.grants import AccessGrants
from custody.staff_access.holds import LegalHolds
from custody.staff_access.interactions import Interactions
from custody.staff_access.invoices import Invoices
from custody.staff_access.requests import StaffRequests
from custody.staff_access.reviews import ChangeReviews, Decision
from custody.staff_access.views import StaffViews
from staff.schemas import (
    ApprovalIn,
    CustomerView,
    DecisionIn,
    DecisionOut,
    ExtensionIn,
    GrantIn,
    GrantOut,
    InteractionIn,
    InteractionOut,
    InteractionsPage,
    InvoiceIn,
    InvoiceOut,
    InvoicesPage,
    LegalHoldIn,
    LegalHoldLifted,
    LegalHoldOut,
    PendingChange,
    PendingChanges,
    RequestEntry,
    RequestsRegisterBody,
)

obs = observability("staff")
app = build_resolver("staff")

CustomerPath = Annotated[str, Path(pattern=r"^[A-Za-z0-9-]{1,128}$")]
IdPath = Annotated[str, Path(pattern=r"^[A-Za-z0-9-]{1,64}$")]
DAY = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"  # a calendar day, YYYY-MM-DD (ASCII digits)


def _caller() -> StaffMember:
    return staff_member(caller(app))


@app.post("/v1/staff/access-grants", responses={201: {"description": "Grant created (maybe awaiting approval)"}})
def request_grant(body: GrantIn) -> Response[GrantOut]:
    grant = AccessGrants(get_settings()).request(
        _caller(), body.customer_id, body.purpose, body.ticket, body.categories, body.duration_minutes
    )
    return Response(status_code=201, content_type="application/json", body=GrantOut.model_validate(grant.view()))


@app.post("/v1/staff/access-grants/<grant_id>/approval")
def approve_grant(grant_id: IdPath, body: ApprovalIn) -> GrantOut:
    grant = AccessGrants(get_settings()).approve(_caller(), body.customer_id, grant_id)
    return GrantOut.model_validate(grant.view())


@app.get("/v1/staff/customers/<customer_id>")
def view_customer(
    customer_id: CustomerPath, grant_id: Annotated[str, Query(pattern=r"^[A-Za-z0-9-]{1,64}$")]
) -> CustomerView:
    view = StaffViews(get_settings()).view(_caller(), customer_id, grant_id)
    obs.metrics.add_metric(name="StaffReads", unit="Count", value=1)
    return CustomerView.model_validate(view)


@app.get("/v1/staff/customers/<customer_id>/interactions")
def interactions_page(
    customer_id: CustomerPath,
    grant_id: Annotated[str, Query(pattern=r"^[A-Za-z0-9-]{1,64}$")],
    cursor: Annotated[
        str | None, Query(description="The `interactions_next_cursor` of the view, or `next_cursor` of the page before")
    ] = None,
) -> InteractionsPage:
    page = StaffViews(get_settings()).interactions_page(_caller(), customer_id, grant_id, cursor)
    obs.metrics.add_metric(name="StaffReads", unit="Count", value=1)
    return InteractionsPage.model_validate(page)


@app.post("/v1/staff/customers/<customer_id>/interactions", responses={201: {"description": "Recorded"}})
def record_interaction(customer_id: CustomerPath, body: InteractionIn) -> Response[InteractionOut]:
    values = body.model_dump(exclude={"grant_id"}, exclude_none=True)
    recorded = Interactions(get_settings()).record(_caller(), customer_id, body.grant_id, values)
    return Response(status_code=201, content_type="application/json", body=InteractionOut.model_validate(recorded))


@app.get("/v1/staff/change-requests")
def pending_change_requests(
    customer_id: Annotated[str | None, Query(pattern=r"^[A-Za-z0-9-]{1,128}$")] = None,
) -> PendingChanges:
    reviews = ChangeReviews(get_settings())
    found = reviews.queue() if customer_id is None else reviews.open_for(_caller(), customer_id)
    return PendingChanges(change_requests=[PendingChange.model_validate(item) for item in found])


@app.post("/v1/staff/change-requests/<change_request_id>/decision")
def decide_change_request(change_request_id: IdPath, body: DecisionIn) -> DecisionOut:
    decided = ChangeReviews(get_settings()).decide(
        _caller(), body.customer_id, change_request_id, Decision(body.decision), body.reason
    )
    return DecisionOut.model_validate(decided)


@app.post("/v1/staff/customers/<customer_id>/invoices", responses={201: {"description": "Recorded"}})
def record_invoice(customer_id: CustomerPath, body: InvoiceIn) -> Response[InvoiceOut]:
    values = body.model_dump(mode="json", exclude={"grant_id"})
    recorded = Invoices(get_settings()).record(_caller(), customer_id, body.grant_id, values)
    return Response(status_code=201, content_type="application/json", body=InvoiceOut.model_validate(recorded))


@app.get("/v1/staff/customers/<customer_id>/invoices")
def invoices_page(
    customer_id: CustomerPath,
    grant_id: Annotated[str, Query(pattern=r"^[A-Za-z0-9-]{1,64}$")],
    cursor: Annotated[str | None, Query(description="The `next_cursor` of the page before")] = None,
) -> InvoicesPage:
    page = Invoices(get_settings()).page(_caller(), customer_id, grant_id, cursor)
    obs.metrics.add_metric(name="StaffReads", unit="Count", value=1)
    return InvoicesPage.model_validate(page)


@app.put("/v1/staff/customers/<customer_id>/legal-hold")
def place_legal_hold(customer_id: CustomerPath, body: LegalHoldIn) -> LegalHoldOut:
    placed = LegalHolds(get_settings()).place(_caller(), customer_id, body.reason_code, body.ticket, body.until)
    obs.metrics.add_metric(name="LegalHoldsPlaced", unit="Count", value=1)
    return LegalHoldOut.model_validate(placed)


@app.delete("/v1/staff/customers/<customer_id>/legal-hold")
def lift_legal_hold(customer_id: CustomerPath) -> LegalHoldLifted:
    lifted = LegalHolds(get_settings()).lift(_caller(), customer_id)
    obs.metrics.add_metric(name="LegalHoldsLifted", unit="Count", value=1)
    return LegalHoldLifted.model_validate(lifted)


@app.get("/v1/staff/requests")
def requests_register(
    due_within_days: Annotated[
        int | None, Query(ge=0, le=366, description="Only requests due within this many days (overdue included)")
    ] = None,
    kind: Annotated[
        str | None, Query(max_length=20, description="access, rectification, erasure or restriction")
    ] = None,
    received_since: Annotated[
        str | None,
        Query(pattern=DAY, description="With `received_until`: every request received in the period, any status"),
    ] = None,
    received_until: Annotated[
        str | None, Query(pattern=DAY, description="Last day (UTC) of the period of receipt, at most 367 days on")
    ] = None,
) -> RequestsRegisterBody:
    found = StaffRequests(get_settings()).open_requests(
        _caller(), clock.now(), due_within_days, kind, (received_since, received_until)
    )
    return RequestsRegisterBody.model_validate(found)


@app.post("/v1/staff/requests/<request_id>/extension")
def extend_request(request_id: IdPath, body: ExtensionIn) -> RequestEntry:
    extended = StaffRequests(get_settings()).extend(_caller(), request_id, body.reason)
    obs.metrics.add_metric(name="RequestsExtended", unit="Count", value=1)
    return RequestEntry.model_validate(extended)


lambda_handler = entrypoint(app, obs)
