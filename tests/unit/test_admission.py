"""Admission's pure parts and the slot pool's invariants (moto), interleavings drawn by Hypothesis."""

from __future__ import annotations

import random
from collections.abc import Iterator

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from moto import mock_aws

from custody.declared import datamap, naming, retention
from custody.declared.settings import Settings
from custody.erasure.admission import DEFER_MAX_SECONDS, Ticket, defer_seconds
from custody.platform.aws import clients, reset_clients
from custody.stores.erasure_slots import ErasureSlots

CAPACITY = 3


@pytest.fixture(scope="module")
def slots() -> Iterator[ErasureSlots]:
    with mock_aws():
        reset_clients()
        config = Settings(erasure_concurrency=CAPACITY)
        table = datamap.OPERATIONAL_TABLES[naming.ERASURE_SLOTS]
        clients.dynamodb().create_table(
            TableName=config.table(table.name),
            KeySchema=[{"AttributeName": table.partition_key, "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": table.partition_key, "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        yield ErasureSlots(config)
    reset_clients()


Operation = tuple[str, int]  # ("claim" | "release", execution number)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["claim", "release"]), st.integers(0, 6)), max_size=30))
def test_no_interleaving_of_claims_and_releases_holds_more_than_the_capacity(
    slots: ErasureSlots, operations: list[Operation]
) -> None:
    for name in slots.running():
        slots.release(name)
    model: set[str] = set()
    for action, number in operations:
        name = f"execution-{number}"
        if action == "claim":
            granted = slots.claim(name)
            assert granted == (name in model or len(model) < CAPACITY)
            if granted:
                model.add(name)
        else:
            slots.release(name)
            model.discard(name)
        assert set(slots.running()) == model
        assert len(model) <= CAPACITY


def test_a_lower_limit_leaves_the_rest_of_the_slots_to_others(slots: ErasureSlots) -> None:
    for name in slots.running():
        slots.release(name)
    assert slots.claim("retention-1", limit=1)
    assert not slots.claim("retention-2", limit=1)
    assert slots.claim("withdrawal-1")  # the full capacity is still there for a withdrawal


def test_oldest_lists_slots_by_claim_time(slots: ErasureSlots) -> None:
    for name in slots.running():
        slots.release(name)
    for name in ("a", "b", "c"):
        assert slots.claim(name)
    assert [name for name, _ in slots.oldest(2)] == ["a", "b"]


@given(st.integers(1, 10_000))
def test_defer_is_full_jitter_under_a_cap(receive_count: int) -> None:
    delay = defer_seconds(receive_count, random.Random(receive_count))
    assert 1 <= delay <= DEFER_MAX_SECONDS


def test_tickets_carry_ids_only_and_read_back() -> None:
    ticket = Ticket("0b0c9d7e-64d4-4c3c-9f0e-2b5f8d6f1a11", 2)
    assert Ticket.of(ticket.body()) == ticket
    for body in ("[]", '{"attempt": 1}', '{"request_id": 3}', '{"request_id": "x", "attempt": -1}', "not json"):
        with pytest.raises((ValueError, KeyError, TypeError)):
            Ticket.of(body)


@given(st.uuids(), st.integers(0, 999_999))
def test_execution_names_round_trip(request_id: object, attempt: int) -> None:
    name = naming.execution_name(str(request_id), attempt)
    assert naming.parse_execution_name(name) == (str(request_id), attempt)
    assert len(name) <= 80  # Step Functions' limit on an execution name


def test_the_sweep_batch_is_what_the_retention_slots_carry_in_the_window() -> None:
    sized = Settings(
        erasure_concurrency=20, retention_slot_percent=75, retention_window_hours=12, erasure_slot_seconds=600
    )
    assert retention.retention_slots(sized) == 15
    assert retention.sweep_batch(sized) == 15 * 12 * 3600 // 600 == 1080
    assert retention.sweep_batch(sized.model_copy(update={"retention_batch_max": 100})) == 100
    assert retention.sweep_batch(sized.model_copy(update={"erasure_concurrency": 40})) == 2 * 1080
    tiny = Settings(
        erasure_concurrency=1, retention_slot_percent=1, retention_window_hours=1, erasure_slot_seconds=86_400
    )
    assert (retention.retention_slots(tiny), retention.sweep_batch(tiny)) == (1, 1)
