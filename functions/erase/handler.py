"""The `erase` function: a customer's withdrawal starts the erasure workflow."""

from __future__ import annotations

import time

from aws_lambda_powertools.event_handler import Response, content_types

from custody.api.http import build_resolver, caller, entrypoint, require_recent_sign_in, subject_id
from custody.declared.settings import get_settings
from custody.erasure.starter import ErasureStarter
from custody.platform.observability import observability
from erase.schemas import WithdrawalAccepted

obs = observability("erase")
app = build_resolver("erase")


@app.post("/v1/me/withdrawal", responses={202: {"description": "Erasure requested; follow it at status_url"}})
def withdraw() -> Response[WithdrawalAccepted]:
    require_recent_sign_in(app, time.time())
    email = caller(app).claims.get("email")  # the verified address the receipt notice goes to
    request = ErasureStarter(get_settings()).withdraw(subject_id(app), str(email) if email else None)
    obs.metrics.add_metric(name="WithdrawalsRequested", unit="Count", value=1)
    body = WithdrawalAccepted(
        request_id=request.request_id,
        status=request.status.value,
        status_url=request.status_url(),
        on_hold_until=request.hold["until"] if request.hold else None,
    )
    return Response(
        status_code=202,
        content_type=content_types.APPLICATION_JSON,
        body=body,
        headers={"Location": request.status_url()},
    )


lambda_handler = entrypoint(app, obs)
