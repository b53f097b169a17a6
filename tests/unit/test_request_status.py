"""What `GET /v1/requests/{request_id}` tells anyone holding the id about a certified erasure."""

from __future__ import annotations

from custody.declared import workflow
from custody.stores.requests import status_view


def _item(**extra: object) -> dict[str, object]:
    return {"request_id": "r", "reason": "withdrawal", "status": "completed", "created_at": "t", **extra}


def test_a_certified_erasure_says_when_nothing_can_be_read_any_more() -> None:
    certificate = {"completed_at": "2026-12-07T05:00:00.000Z", "unrecoverable_after": "2027-01-06T05:00:00.000Z"}
    view = status_view(_item(certificate=certificate, certificate_digest="ab" * 32), workflow.MILESTONES)
    assert view["unrecoverable_after"] == "2027-01-06T05:00:00.000Z"
    assert view["certificate_digest"] == "ab" * 32


def test_an_uncertified_request_has_no_such_date() -> None:
    assert status_view(_item(status="in_progress"), workflow.MILESTONES)["unrecoverable_after"] is None
    # A purpose erasure keeps the key: its certificate has no date of its own.
    kept_key = _item(certificate={"unrecoverable_after": None})
    assert status_view(kept_key, workflow.MILESTONES)["unrecoverable_after"] is None
