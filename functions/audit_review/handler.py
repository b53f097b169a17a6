"""The `audit_review` function: what `custody audit` and `custody retention register` show, for the console.

Read-only, for the staff pool's auditors and privacy officers (the catalog's groups): the disposal
register, paged, and per request the execution history, the ledger events, the chain verification and
the certificate — through the same library the CLI runs (`custody.audit.review`), with this function's
role, which reads what the stack's `AuditorRole` reads of the ledger and the workflow and nothing else.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated

from aws_lambda_powertools.event_handler.openapi.params import Path, Query

from audit_review.schemas import DisposalPage, RequestReview
from custody.access_control.principals import staff_member
from custody.api.http import build_resolver, caller, entrypoint
from custody.audit.review.reader import lambda_clients
from custody.declared import clock
from custody.declared.errors import InvalidInput
from custody.declared.settings import get_settings
from custody.oversight.views import DISPOSALS_PAGE_MAX, disposal_page, request_review
from custody.platform.observability import observability

obs = observability("audit_review")
app = build_resolver("audit_review")

DATE = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"
# A window wider than a year and a day is refused: the register of a window is read whole per page.
WINDOW_MAX_DAYS = 367


@app.get("/v1/audit/disposals")
def disposals(
    since: Annotated[
        str | None, Query(pattern=DATE, description="First day (UTC), default a year before `until`")
    ] = None,
    until: Annotated[str | None, Query(pattern=DATE, description="Last day (UTC), default today")] = None,
    limit: Annotated[int, Query(ge=1, le=DISPOSALS_PAGE_MAX, description="Entries per page")] = 50,
    cursor: Annotated[str | None, Query(max_length=512, description="`next_cursor` of the previous page")] = None,
) -> DisposalPage:
    staff_member(caller(app))
    end = _day(until, "until", "T23:59:59Z") if until else clock.now()
    start = _day(since, "since", "T00:00:00Z") if since else end - timedelta(days=365)
    if start > end or end - start > timedelta(days=WINDOW_MAX_DAYS):
        raise _invalid("since", f"not after until, nor more than {WINDOW_MAX_DAYS} days before it")
    return DisposalPage.model_validate(disposal_page(get_settings(), start, end, limit, cursor))


@app.get("/v1/audit/requests/<request_id>")
def review_request(request_id: Annotated[str, Path(pattern=r"^[A-Za-z0-9-]{1,64}$")]) -> RequestReview:
    staff_member(caller(app))
    return RequestReview.model_validate(request_review(get_settings(), lambda_clients(), request_id))


def _day(text: str, name: str, time: str) -> datetime:
    try:
        return clock.parse(f"{text}{time}")
    except ValueError:
        raise _invalid(name, "not a calendar date") from None


def _invalid(name: str, reason: str) -> InvalidInput:
    return InvalidInput(f"The {name} date is not usable: {reason}.", {"fields": [{"field": name, "reason": reason}]})


lambda_handler = entrypoint(app, obs)
