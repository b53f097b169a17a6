"""A burst of withdrawals: every erasure ends certified, none fails because others withdrew at once.

N customers (100 in `make test`, 1,000 in `make soak`) withdraw through the local gateway at once,
from several client threads. The local stack throttles as Lambda does (`devstack.concurrency`): the
admission lets `CAPACITY` erasures run and queues the rest, and the erasure steps get a reserved
concurrency below that — a pool shared with a burst elsewhere, or sized too small — so Step
Functions' tasks are throttled and must back off and retry. Then every request must be completed
and certified, nothing left of any customer, every slot given back, the queues empty, and every
execution's end seen by the outcome rule.

Figures go to the robustness report and to `reports/burst.json` (`make bench` prints them):
withdrawals, failed, unrecorded (an execution that ended without its request saying so), seconds
from the withdrawal's 202 to the certificate (p50, p99, and against one erasure alone in the same
run), Lambda throttles and Step Functions retries.
"""

from __future__ import annotations

import json
import os
import statistics
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Final

from custody.declared import naming
from custody.declared.settings import ENV_PREFIX, Settings
from custody.stores.erasure_slots import ErasureSlots
from custody.stores.requests import RequestsTable
from devstack import metering, patches
from tests.integration.conftest import LocalStack
from tests.integration.erasure.conftest import Customer
from tests.robustness import figures
from tests.robustness.conftest import execution_arn, residue, scaled

WITHDRAWALS: Final = int(os.environ.get("CUSTODY_BURST_WITHDRAWALS", "0")) or scaled(100, 1_000)
CLIENT_THREADS: Final = 8  # customers withdrawing at the same moment
CAPACITY: Final = 4  # erasures running at once (Settings.erasure_concurrency): the rest wait on the queue
STEPS_RESERVED: Final = 3  # erasure_steps' concurrency, below the running erasures: their tasks throttle
# Step Functions' back-off, scaled: a 2-60 s wait takes 1-30 s here. Scaled further, the back-off is short
# against the local runtime's serialised invocations, which Lambda's are not: at 0.2, 20 throttled attempts
# (about 96 s of jittered back-off) ran out in 1 erasure of 100 in two CI runs, where AWS waits about 8 minutes.
RETRY_TIME_SCALE: Final = 0.5
REPORT: Final = Path(__file__).resolve().parents[2] / "reports" / "burst.json"
TERMINAL: Final = frozenset({"completed", "failed"})


def test_a_burst_of_withdrawals_all_end_certified(local_stack: LocalStack) -> None:
    settings = Settings.from_env(local_stack.resources.environment)
    customers = [_customer(local_stack, index) for index in range(WITHDRAWALS + 1)]
    lambda_client = local_stack.clients("lambda")
    steps = local_stack.resources.functions["erasure_steps"].name
    with patches.retries_scaled(RETRY_TIME_SCALE):
        # the floor: one erasure alone, in the same run and stack
        alone = _erase_all(local_stack, settings, customers[:1])["seconds"][0]
        lambda_client.put_function_concurrency(FunctionName=steps, ReservedConcurrentExecutions=STEPS_RESERVED)
        before = metering.burst_counts()
        try:
            with _capacity(local_stack, CAPACITY):
                outcome = _erase_all(local_stack, settings, customers[1:])
        finally:
            lambda_client.delete_function_concurrency(FunctionName=steps)
        counts = metering.burst_counts() - before
    local_stack.wait_for_async()

    statuses, executions = outcome["statuses"], outcome["executions"]
    failed = sum(1 for status in statuses.values() if status != "completed")
    # an execution that ended otherwise than SUCCEEDED, and its request does not say it failed
    unrecorded = sum(
        1 for request_id, status in executions.items() if status != "SUCCEEDED" and statuses[request_id] not in TERMINAL
    )
    ended_otherwise = sum(n for status, n in counts.status_events.items() if status not in ("RUNNING", "SUCCEEDED"))
    seconds = sorted(outcome["seconds"])
    result = {
        "burst.withdrawals": WITHDRAWALS,
        "burst.failed": failed,
        "burst.unrecorded": unrecorded,
        "burst.p50_seconds": round(statistics.median(seconds), 3),
        "burst.p99_seconds": round(seconds[max(0, round(0.99 * len(seconds)) - 1)], 3),
        "burst.alone_seconds": round(alone, 3),
        "burst.p50_over_alone": round(statistics.median(seconds) / alone, 2),
        "burst.lambda_throttles": counts.total_lambda_throttles,
        "burst.steps_throttles": sum(n for (name, _), n in counts.lambda_throttles.items() if name == steps),
        "burst.sfn_retries": sum(counts.sfn_retries.values()),
        "burst.sfn_retries_exhausted": sum(counts.sfn_exhausted.values()),
        "burst.queued_admissions": outcome["queued"],
        "burst.executions_ended_otherwise": ended_otherwise,
        "burst.history_limited": counts.sfn_history_limited,
    }
    REPORT.parent.mkdir(parents=True, exist_ok=True)
    REPORT.write_text(json.dumps(result, indent=2) + "\n")
    for name in ("withdrawals", "failed", "unrecorded", "lambda_throttles", "sfn_retries"):
        figures.FIGURES.add(f"burst_{name}", int(result[f"burst.{name}"]))

    assert failed == 0, {status for status in statuses.values()}
    assert unrecorded == 0
    assert result["burst.steps_throttles"] > 0, "the burst never throttled the steps: it proved nothing"
    assert result["burst.sfn_retries_exhausted"] == 0
    assert outcome["queued"] > 0, "every erasure found a slot at once: the admission queue was never used"
    assert ended_otherwise == 0
    assert ErasureSlots(settings).running() == {}  # every slot given back
    assert _queue_depth(local_stack, naming.ERASURE_ADMISSIONS) == 0
    left = {person.subject_id: residue(local_stack, person.subject_id) for person in customers}
    assert {subject: found for subject, found in left.items() if found} == {}


@contextmanager
def _capacity(stack: LocalStack, slots: int) -> Iterator[None]:
    """Every function told `erasure_concurrency = slots` for the block (as a redeploy with the setting would)."""
    lambda_client = stack.clients("lambda")
    saved: dict[str, dict[str, str]] = {}
    for function in stack.resources.functions.values():
        variables = lambda_client.get_function_configuration(FunctionName=function.name)["Environment"]["Variables"]
        saved[function.name] = dict(variables)
        variables = {**variables, f"{ENV_PREFIX}ERASURE_CONCURRENCY": str(slots)}
        lambda_client.update_function_configuration(FunctionName=function.name, Environment={"Variables": variables})
    try:
        yield
    finally:
        for name, variables in saved.items():
            lambda_client.update_function_configuration(FunctionName=name, Environment={"Variables": variables})


def _customer(stack: LocalStack, index: int) -> Customer:
    person = Customer.signed_up(stack, f"burst-{index}-{time.monotonic_ns()}@example.com")
    reply = person.call("POST", "/v1/me/consents", {"purpose": "crm_core", "policy_version": "2026-11"})
    assert reply.status == 201, reply.text
    return person


def _erase_all(stack: LocalStack, settings: Settings, customers: list[Customer]) -> dict[str, Any]:
    """Withdraw them all at once; drain the admission queue until every request's execution ended.

    Returns each request's status, its execution's status, the seconds from its 202 to its
    certificate (or to its end), and how many admission tickets the queue delivered.
    """
    accepted: dict[str, float] = {}

    def withdraw(person: Customer) -> None:
        reply = person.call("POST", "/v1/me/withdrawal")
        assert reply.status == 202, reply.text  # accepted at any rate
        accepted[reply.body["request_id"]] = time.monotonic()

    # While the customers withdraw, every slot is held by erasures "still running", so every request
    # waits on the admission queue; then the slots free up at once. Locally one handler runs at a
    # time, and a step waiting behind a hundred API calls would hold its unit as Lambda never does.
    slots = ErasureSlots(settings)
    holders = [f"held-{index}" for index in range(CAPACITY)]
    for name in holders:
        assert slots.claim(name, CAPACITY)
    with ThreadPoolExecutor(CLIENT_THREADS) as pool:
        list(pool.map(withdraw, customers))
    for name in holders:
        slots.release(name)
    requests, sfn = RequestsTable(settings), stack.clients("stepfunctions")
    done: dict[str, float] = {}
    executions: dict[str, str] = {}
    queued = 0
    # A bound so a broken run cannot hang, not a timing target: a quiet machine needs under 5 s per erasure.
    deadline = time.monotonic() + 60 + 10 * len(customers)
    while len(done) < len(accepted):
        assert time.monotonic() < deadline, f"{len(accepted) - len(done)} erasures did not end"
        assert stack.admission is not None
        queued += stack.admission.poll_once().received
        for request_id in set(accepted) - set(done):
            item = requests.load(request_id) or {}
            if item.get("status") == "completed" and item.get("certificate_digest"):
                done[request_id] = time.monotonic()
                continue
            try:
                described = sfn.describe_execution(executionArn=execution_arn(stack, request_id))
            except sfn.exceptions.ExecutionDoesNotExist:
                continue  # still waiting for a slot
            if described["status"] != "RUNNING":
                executions[request_id] = str(described["status"])
                done[request_id] = time.monotonic()
        time.sleep(0.05)
    stack.wait_for_async()  # the outcome rule's invocations of the last executions to end
    statuses = {request_id: str((requests.load(request_id) or {}).get("status", "")) for request_id in accepted}
    for request_id in accepted:
        executions.setdefault(
            request_id, str(sfn.describe_execution(executionArn=execution_arn(stack, request_id))["status"])
        )
    return {
        "statuses": statuses,
        "executions": executions,
        "seconds": [done[request_id] - accepted[request_id] for request_id in accepted],
        "queued": queued,
    }


def _queue_depth(stack: LocalStack, queue: str) -> int:
    attributes = stack.clients("sqs").get_queue_attributes(
        QueueUrl=stack.resources.queues[queue],
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"]) + int(attributes["ApproximateNumberOfMessagesNotVisible"])
