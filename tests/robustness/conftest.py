"""The robustness suite (issue 9): faults, crashes, hostile input, authorization, privacy.

Runs on the in-process stack (`local_stack`, one per module) with real tokens through the
local gateway and the real ASL on moto. `CUSTODY_ROBUSTNESS_PROFILE=soak` (`make soak`) scales
the seeded runs up; the default (`fast`) is what `make test` runs.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import hypothesis
import pytest

from custody.declared import datamap, naming
from devstack.gateway import Gateway
from devstack.residue import residue as stack_residue
from tests.integration.conftest import LocalStack, running_local_stack
from tests.integration.erasure.conftest import (
    PROFILE,
    Customer,
    customer,
    new_customer,
    settings,
    wait_for_execution,
)
from tests.robustness import figures
from tests.robustness.examples import Cast, World
from tests.robustness.interleave import intercepting
from tests.robustness.ledger_scan import recording

HOSTILE_SUITES = (
    "test_any_body",
    "test_bad_input",
    "test_fuzz",
)  # what they submit is looked for in the ledger afterwards

__all__ = ["customer", "new_customer", "settings"]


@pytest.fixture(scope="package")
def local_stack() -> Iterator[LocalStack]:
    """One in-process stack for the whole suite (provisioning it per module would cost seconds each);
    every test makes its own customers, so they do not see each other."""
    with running_local_stack() as stack:
        yield stack


@pytest.fixture(scope="module")
def cast(local_stack: LocalStack) -> Cast:
    """The staff and the sub-processor around a module's worlds (tests/robustness/examples.py)."""
    return Cast(local_stack)


@pytest.fixture
def new_world(cast: Cast) -> Iterator[Any]:
    """Makes worlds (a new customer with everything, tests/robustness/examples.py); when the test ends,
    every erasure of theirs has ended too (their sub-processors acknowledging), so none outlives it."""
    from tests.robustness.finality import settle_subject

    made: list[World] = []

    def make(*, profile: bool = True) -> World:
        made.append(World(cast, profile=profile))
        return made[-1]

    yield make
    for world in made:
        settle_subject(cast.stack, world.subject_id, world.acknowledge)


@pytest.fixture(scope="module")
def intercepted() -> Iterator[None]:
    """Watched threads' AWS calls are seen, and can be held, for the module (tests/robustness/interleave.py)."""
    with intercepting():
        yield


@pytest.fixture(autouse=True)
def record_hostile_submissions(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """In the hostile suites, every request the gateway serves is recorded (tests/robustness/ledger_scan.py)."""
    if request.module.__name__.rsplit(".", 1)[-1] in HOSTILE_SUITES:
        monkeypatch.setattr(Gateway, "__call__", recording(Gateway.__call__))


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/robustness/" in str(item.fspath):
            item.add_marker(pytest.mark.robustness)


def scaled(fast: int, soak: int) -> int:
    return soak if figures.soak() else fast


def generated(examples: int) -> Any:
    """Hypothesis settings of the generated-request suites: a fixed seed, no example database, no
    deadline (requests go through the whole stack), every health check off (large, slow inputs)."""
    return hypothesis.settings(
        max_examples=examples,
        derandomize=True,
        database=None,
        deadline=None,
        phases=[hypothesis.Phase.explicit, hypothesis.Phase.generate],
        suppress_health_check=list(hypothesis.HealthCheck),
        print_blob=False,
    )


def customer_with_everything(stack: LocalStack, label: str) -> Customer:
    """A new customer who granted every purpose of the data map and holds the whole sample profile."""
    person = Customer.signed_up(stack, f"{label}-{uuid.uuid4().hex[:8]}@example.com")
    for purpose in ("crm_core", "marketing", "payments", "health_services"):
        assert person.call("POST", "/v1/me/consents", {"purpose": purpose, "policy_version": "2026-11"}).status == 201
    assert person.call("PUT", "/v1/me/profile", PROFILE).status == 200
    return person


def residue(stack: LocalStack, subject_id: str) -> dict[str, int]:
    """What any store or derived record still holds for the subject (`devstack.residue`, from the data map)."""
    return stack_residue(stack.clients, stack.resources, subject_id)


def footprint(stack: LocalStack, subject_id: str) -> dict[str, Any]:
    """Every item and object version held for the subject, plus its subject record: to show a refusal wrote nothing."""
    dynamodb, s3 = stack.clients("dynamodb"), stack.clients("s3")
    found: dict[str, Any] = {}
    for store in datamap.table_stores():
        items = []
        for page in dynamodb.get_paginator("query").paginate(
            TableName=stack.resources.tables[store.name],
            KeyConditionExpression="#pk = :s",
            ExpressionAttributeNames={"#pk": store.partition_key},
            ExpressionAttributeValues={":s": {"S": subject_id}},
        ):
            items += page["Items"]
        found[store.name] = sorted(json.dumps(item, sort_keys=True, default=repr) for item in items)
    for store in datamap.bucket_stores():
        listed = s3.list_object_versions(Bucket=stack.resources.buckets[store.name], Prefix=f"subjects/{subject_id}/")
        found[store.name] = sorted(
            f"{entry['Key']}@{entry['VersionId']}"
            for entry in [*listed.get("Versions", []), *listed.get("DeleteMarkers", [])]
        )
    subject = dynamodb.get_item(TableName=stack.resources.tables["subjects"], Key={"subject_id": {"S": subject_id}})
    found["subjects"] = json.dumps(subject.get("Item"), sort_keys=True, default=repr)
    return found


def report_of(person: Customer) -> dict[str, Any]:
    """The customer's access report without its volatile fields."""
    reply = person.call("GET", "/v1/me")
    assert reply.status == 200, reply.text
    body: dict[str, Any] = reply.body
    body.pop("generated_at", None)
    return body


def execution_arn(stack: LocalStack, execution_name: str) -> str:
    arn = stack.resources.state_machines[naming.ERASURE_STATE_MACHINE].replace(":stateMachine:", ":execution:")
    return f"{arn}:{execution_name}"


__all__ += [
    "customer_with_everything",
    "footprint",
    "generated",
    "report_of",
    "residue",
    "scaled",
    "settle",
    "wait_for_execution",
]


def settle(stack: LocalStack, timeout: float = 120.0) -> int:
    """Wait until no erasure execution is running (fuzzed withdrawals start some); return how many ran."""
    import time

    sfn = stack.clients("stepfunctions")
    machine = stack.resources.state_machines[naming.ERASURE_STATE_MACHINE]
    deadline = time.monotonic() + timeout
    while True:
        executions = sfn.list_executions(stateMachineArn=machine)["executions"]
        if not any(item["status"] == "RUNNING" for item in executions):
            return len(executions)
        assert time.monotonic() < deadline, "erasure executions are still running"
        time.sleep(0.05)
