"""A restriction of processing (GDPR art. 18) keeps the data stored: inactivity erases nobody while it lasts.

Art. 18(1)(b) and (c) are a customer opposing erasure and a customer needing the data for legal
claims; the sweep erasing them for inactivity would undo the restriction. Lifted, the customer is
due again like anyone else.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import UTC, datetime, timedelta

import pytest

from custody.declared import clock, retention
from custody.declared.settings import Settings
from custody.retention import disposal
from custody.stores import dynamo
from custody.stores.requests import RequestsTable
from custody.stores.subjects import Subject, SubjectRegistry
from devstack.iam.enforce import acting_as
from tests.integration.conftest import LocalStack
from tests.integration.erasure.conftest import wait_for_execution

Travel = Callable[[datetime], AbstractContextManager[None]]
NOW = datetime.now(UTC).replace(microsecond=0) + timedelta(days=90)  # apart from test_sweep.py's subjects


def _sweep(settings: Settings, at: datetime) -> disposal.SweepReport:
    with acting_as("retention"):
        return disposal.RetentionSweep(settings).run(at)


def test_a_restricted_customer_is_not_erased_for_inactivity_until_the_restriction_is_lifted(
    local_stack: LocalStack, settings: Settings, active_at: Travel
) -> None:
    registry = SubjectRegistry(settings)
    subject_id = str(uuid.uuid4())
    with active_at(NOW):
        dynamo.transact([registry.touch(Subject(subject_id))])
        restricted = registry.load(subject_id)
        dynamo.transact([registry.restrict(restricted, "needed_for_legal_claims", clock.iso(NOW))])
    due_at = retention.disposal_due(NOW, settings) + timedelta(hours=1)

    report = _sweep(settings, due_at)
    assert subject_id not in {registry_request(settings, request_id) for request_id in report.request_ids}
    assert registry.load(subject_id).restricted
    assert registry.load(subject_id).status.value == "active"

    # The write carries the rule itself: a sweep that read the customer before the restriction cannot erase.
    stale = Subject(subject_id, last_active_at=restricted.last_active_at)
    with pytest.raises(dynamo.TransactionConflict):
        dynamo.transact(
            [registry.touch(stale, inactive_since=restricted.last_active_at, unrestricted=True, bump_consent=True)]
        )

    with active_at(NOW):  # lifted without moving the activity the sweep reads (time stands at NOW)
        dynamo.transact([registry.lift_restriction(registry.load(subject_id))])
    again = _sweep(settings, due_at)
    erased = {registry_request(settings, request_id): request_id for request_id in again.request_ids}
    assert subject_id in erased
    assert wait_for_execution(local_stack, erased[subject_id])["status"] == "SUCCEEDED"


def registry_request(settings: Settings, request_id: str) -> str:
    """The subject an erasure request the sweep started is for."""
    found = RequestsTable(settings).erasure(request_id)
    assert found is not None
    return found.subject_id
