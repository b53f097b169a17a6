"""A whole erasure: the real state machine run by moto, every AWS call its steps make, by purpose.

`benchmarks/erasure.py` measures the data path alone (the stores' reads and deletes against the
batching floor). This one runs a withdrawal end to end — the ASL file executed by moto's Step
Functions, the steps Lambda in-process — and counts every call the functions make, sorted into
what it is for: the customer's data, the audit ledger, the request's bookkeeping, keys, identity.
"""

from __future__ import annotations

import base64
import json
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from benchmarks.api import PROFILE
from benchmarks.harness import Caller, account, observing_every_call
from custody.declared import datamap, naming
from custody.declared.settings import Settings
from custody.platform.aws import clients
from custody.stores.partitions import BATCH_WRITE_MAX
from devstack import identity, patches, runtime
from devstack.resources import Resources

SHAPES = ((10, 1), (1_000, 10))  # (interactions, documents)
PURPOSE_COLUMNS = ("data", "audit", "bookkeeping", "keys", "identity", "workflow", "other")
PURPOSES = ("crm_core", "marketing", "payments", "health_services")
SFN_EXECUTION = {"stepfunctions": {"execute_state_machine": True}}
NOT_COUNTED = {"stepfunctions.DescribeExecution"}  # the benchmark's own polling


@contextmanager
def counting_every_call() -> Iterator[list[tuple[str, str]]]:
    """(service.Operation, table or bucket) of every botocore call in this process, the steps' included."""
    made: list[tuple[str, str]] = []

    def count(name: str, params: dict[str, Any], _: float) -> None:
        if name not in NOT_COUNTED:
            made.append((name, _resource(params)))

    with observing_every_call(count):
        yield made


def _resource(params: dict[str, Any]) -> str:
    """The table or bucket a call is about (the first of a batch or transaction)."""
    if "RequestItems" in params:
        return str(next(iter(params["RequestItems"]), ""))
    if "TransactItems" in params:
        first: dict[str, Any] = next(iter(params["TransactItems"][0].values()), {})
        return str(first.get("TableName", ""))
    return str(params.get("TableName") or params.get("Bucket") or "")


def purposes(settings: Settings) -> dict[str, str]:
    """Table or bucket name → what its calls are for."""
    named = {settings.table(store.name): "data" for store in datamap.table_stores()}
    named |= {settings.bucket(store.name): "data" for store in datamap.bucket_stores()}
    named[settings.table("subject_keys")] = "keys"
    named[settings.table("audit_chains")] = "audit"
    named[settings.bucket(naming.AUDIT_BUCKET)] = "audit"
    for table in ("requests", "subjects", "erasure_ledger", "processors", naming.ERASURE_SLOTS):
        named[settings.table(table)] = "bookkeeping"
    return named


def _purpose(call: tuple[str, str], named: dict[str, str]) -> str:
    operation, resource = call
    if operation.startswith("kms."):
        return "keys"
    if operation.startswith("cognito-idp."):
        return "identity"
    if operation.startswith(("stepfunctions.", "sns.", "sqs.", "lambda.")):
        return "workflow"
    return named.get(resource, "other")


def _customer(resources: Resources, interactions: int, documents: int) -> Caller:
    email = f"{uuid.uuid4().hex[:12]}@example.com"
    pool = resources.user_pools[naming.CUSTOMER_POOL]
    tokens = identity.customer_tokens(clients.cognito_idp(), pool, email)
    caller = Caller(str(identity.unverified_claims(tokens.id_token)["sub"]), resources)
    for purpose in PURPOSES:
        caller.call("collect", "POST", "/v1/me/consents", {"purpose": purpose, "policy_version": "2026-11"})
    caller.call("collect", "PUT", "/v1/me/profile", PROFILE)
    for index in range(documents):
        content = base64.b64encode(f"letter {index}".encode()).decode()
        upload = {"file_name": f"letter-{index}.txt", "content_type": "text/plain", "content_base64": content}
        caller.call("collect", "POST", "/v1/me/documents", upload)
    table = resources.tables["interactions"]
    subject = {"S": caller.subject_id}
    for start in range(0, interactions, BATCH_WRITE_MAX):
        clients.dynamodb().batch_write_item(
            RequestItems={
                table: [
                    {"PutRequest": {"Item": {"subject_id": subject, "interaction_key": {"S": f"{n:06d}"}}}}
                    for n in range(start, min(start + BATCH_WRITE_MAX, interactions))
                ]
            }
        )
    return caller


def _wait(resources: Resources, request_id: str) -> str:
    arn = resources.state_machines[naming.ERASURE_STATE_MACHINE].replace(":stateMachine:", ":execution:")
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        status = str(clients.stepfunctions().describe_execution(executionArn=f"{arn}:{request_id}")["status"])
        if status != "RUNNING":
            return status
        time.sleep(0.02)
    raise TimeoutError("the erasure did not finish")


def billed(resources: Resources, execution_name: str) -> tuple[int, int]:
    """(state transitions, Lambda invocations) of one execution, counted in its real history.

    Standard workflows are billed per state transition, retries included (Step Functions pricing):
    each `*StateEntered` event is one, a Map's own and every state of its iterations among them; a
    retry is a `TaskScheduled` without a new `StateEntered`, so it is counted as a transition too.
    Invocations are the `TaskScheduled` events (every Task here invokes a Lambda function).
    """
    arn = resources.state_machines[naming.ERASURE_STATE_MACHINE].replace(":stateMachine:", ":execution:")
    events: list[dict[str, Any]] = []
    pages = clients.stepfunctions().get_paginator("get_execution_history")
    for page in pages.paginate(executionArn=f"{arn}:{execution_name}"):
        events.extend(dict(event) for event in page["events"])
    entered = sum(1 for event in events if str(event["type"]).endswith("StateEntered"))
    scheduled = sum(1 for event in events if event["type"] == "TaskScheduled")
    task_states = sum(1 for event in events if event["type"] == "TaskStateEntered")
    return entered + max(0, scheduled - task_states), scheduled


def run() -> dict[str, Any]:
    rows: list[dict[str, Any]] = []
    runtime.capture_output()  # the steps' logs go to their invocations, not between the tables
    with account(config=SFN_EXECUTION) as (resources, settings), patches.patched(time_scale=0.0):
        named = purposes(settings)
        for interactions, documents in SHAPES:
            caller = _customer(resources, interactions, documents)
            with counting_every_call() as made:
                started = time.perf_counter()
                reply = caller.call("erase", "POST", "/v1/me/withdrawal")
                request_id = json.loads(reply["body"])["request_id"]
                status = _wait(resources, request_id)
                seconds = time.perf_counter() - started
            transitions, invocations = billed(resources, request_id)
            by_purpose = Counter(_purpose(call, named) for call in made)
            rows.append(
                {
                    "interactions": interactions,
                    "documents": documents,
                    "status": status,
                    "calls": len(made),
                    "transitions": transitions,
                    "invocations": invocations,
                    **{purpose: by_purpose.get(purpose, 0) for purpose in PURPOSE_COLUMNS},
                    "seconds": round(seconds, 3),
                    "calls_by_operation": dict(sorted(Counter(name for name, _ in made).items())),
                }
            )
    runtime.release_output()
    smallest = rows[0]
    return {
        "rows": rows,
        "figures": {
            "workflow.calls_small_customer": smallest["calls"],
            "workflow.audit_calls_small_customer": smallest["audit"],
            "erasure.transitions_small": smallest["transitions"],
            "erasure.invocations_small": smallest["invocations"],
        },
    }
