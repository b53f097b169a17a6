"""A store larger than one invocation can erase: EraseStores pauses, saves its totals, and its retry resumes.

The real ASL runs; the step's clock is made to run out after every batch, so a customer of a few
hundred items takes many invocations — exactly what a customer of millions does in AWS, where the
budget is the function's timeout. Every item goes, the certificate counts each exactly once, and
the history holds one `EraseStores` state however many invocations it took.
"""

from __future__ import annotations

import dataclasses
import math
from collections import Counter
from typing import Any

import pytest

from custody.declared import workflow as workflow_names
from custody.declared.settings import Settings
from custody.erasure import workflow
from custody.erasure.contract import EraseStoresInput, EraseStoresOutput
from custody.erasure.errors import StoresNotFinished
from custody.erasure.steps import erase_stores
from custody.erasure.steps.context import StepContext
from custody.platform.aws import clients
from custody.stores.partitions import BATCH_WRITE_MAX
from custody.stores.requests import ErasureReason, ErasureRequest, RequestsTable
from tests.integration.conftest import LocalStack
from tests.integration.erasure.conftest import Customer, history, wait_for_execution
from tests.integration.erasure.test_withdrawal import _residue

INTERACTIONS = 260
BATCH = BATCH_WRITE_MAX  # the floor of erasure_batch_items: one BatchWriteItem per batch


def _seed_interactions(stack: LocalStack, subject_id: str, count: int) -> None:
    table = stack.resources.tables["interactions"]
    for start in range(0, count, BATCH_WRITE_MAX):
        clients.dynamodb().batch_write_item(
            RequestItems={
                table: [
                    {"PutRequest": {"Item": {"subject_id": {"S": subject_id}, "interaction_key": {"S": f"{n:06d}"}}}}
                    for n in range(start, min(start + BATCH_WRITE_MAX, count))
                ]
            }
        )


class _OneBatchClock:
    """A Lambda clock with time for one batch per invocation: plenty at the first look, nothing after."""

    def __init__(self) -> None:
        self.looks = 0

    def __call__(self) -> int:
        self.looks += 1
        return 300_000 if self.looks == 1 else 0


def test_a_store_too_large_for_one_invocation_resumes_until_done(
    local_stack: LocalStack, customer: Customer, monkeypatch: pytest.MonkeyPatch, settings: Settings
) -> None:
    customer.fill(documents=1)
    _seed_interactions(local_stack, customer.subject_id, INTERACTIONS)
    original = workflow.STEPS[workflow_names.ERASE_STORES].run
    invocations: list[int] = []

    def one_batch_each(context: StepContext, event: EraseStoresInput) -> EraseStoresOutput:
        invocations.append(event.attempt)
        small = context.settings.model_copy(update={"erasure_batch_items": BATCH})
        output: EraseStoresOutput = original(
            dataclasses.replace(context, settings=small, remaining_ms=_OneBatchClock()), event
        )
        return output

    monkeypatch.setitem(
        workflow.STEPS, workflow_names.ERASE_STORES, workflow.Step(workflow_names.ERASE_STORES, one_batch_each)
    )
    request_id = customer.call("POST", "/v1/me/withdrawal").body["request_id"]
    described = wait_for_execution(local_stack, request_id, timeout=120)
    assert described["status"] == "SUCCEEDED"
    assert _residue(local_stack, customer.subject_id) == {}
    # one batch per invocation: the interactions alone take ⌈260/25⌉ of them, each a retry of the one state
    assert len(invocations) >= math.ceil(INTERACTIONS / BATCH)
    assert invocations == list(range(len(invocations)))  # $$.State.RetryCount reached the step each time
    events = history(local_stack, described["executionArn"])
    entered = Counter(e["stateEnteredEventDetails"]["name"] for e in events if "stateEnteredEventDetails" in e)
    assert entered["EraseStores"] == 1
    item = RequestsTable(settings).load(request_id)
    assert item is not None
    assert item["certificate"]["stores"]["interactions"] == INTERACTIONS  # counted once, across the invocations


def test_a_paused_run_saves_its_totals_and_the_retry_skips_the_stores_done(
    local_stack: LocalStack, settings: Settings
) -> None:
    subject_id = "5b1c3a43-5e4f-4a55-9d6e-1f6b2c3d4e5f"
    _seed_interactions(local_stack, subject_id, 60)
    request = ErasureRequest.new(subject_id, ErasureReason.WITHDRAWAL, ())
    requests = RequestsTable(settings)
    clients.dynamodb().transact_write_items(TransactItems=[requests.put_new(request)])
    small = settings.model_copy(update={"erasure_batch_items": BATCH})
    base: dict[str, Any] = {
        "step": "erase_stores",
        "request_id": request.request_id,
        "subject_id": subject_id,
        "reason": request.reason,
        "scope": request.scope,
        "stores": ("consents", "interactions", "profiles"),
        "execution": request.request_id,
        "round": 0,
    }
    context = dataclasses.replace(StepContext.of(small), remaining_ms=_OneBatchClock())
    with pytest.raises(StoresNotFinished):
        erase_stores.run(context, EraseStoresInput(**base))
    saved = requests.load(request.request_id)
    assert saved is not None
    assert saved[erase_stores.PROGRESS]["stores"]["consents"] == {"erased": 0, "done": True}
    assert saved[erase_stores.PROGRESS]["stores"]["interactions"]["done"] is False
    # a fresh start (attempt 0: a new round or execution) ignores the saved totals; a retry resumes them
    resumed = erase_stores.run(StepContext.of(small), EraseStoresInput(**base, attempt=1))
    totals = {total.store: total.erased for total in resumed.stores}
    assert totals == {"consents": 0, "interactions": 60, "profiles": 0}
    assert resumed.erased == 60
