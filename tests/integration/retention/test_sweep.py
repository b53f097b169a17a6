"""The retention sweep on moto: who it erases, that it is idempotent and bounded, and what it costs.

Time travels by injection: activity is recorded at a chosen moment (`active_at`) and the sweep
is given its `now`; nothing sleeps. The module's stack is shared, so assertions are about the
subjects each test made, or about counts the index itself reports.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import pytest

from custody.audit.ledger import CLAIMED_HEADS
from custody.declared import clock, datamap, retention
from custody.declared.settings import Settings
from custody.erasure.starter import ErasureStarter
from custody.retention import disposal
from custody.stores import dynamo, subjects
from custody.stores.requests import ErasureReason, ErasureRequest, RequestsTable
from custody.stores.subjects import Subject, SubjectRegistry
from devstack.iam.enforce import acting_as
from devstack.metering import counting_calls
from ops import cli, target
from tests.integration.conftest import LocalStack
from tests.integration.erasure.conftest import Customer, wait_for_execution

Travel = Callable[[datetime], AbstractContextManager[None]]
NOW = datetime.now(UTC).replace(microsecond=0)
_T = TypeVar("_T")


def _as_retention(work: Callable[..., _T], *args: Any) -> _T:
    """What the retention function does, checked against its role as when it runs in Lambda."""
    with acting_as("retention"):
        return work(*args)


def _past_the_period(settings: Settings, last_active: datetime) -> datetime:
    return retention.disposal_due(last_active, settings) + timedelta(hours=1)


def _subject(settings: Settings, travel: Travel, moment: datetime) -> str:
    """A subject with nothing but its lifecycle record, last active at `moment` (no identity, no data)."""
    subject_id = str(uuid.uuid4())
    with travel(moment):
        dynamo.transact([SubjectRegistry(settings).touch(Subject(subject_id))])
    return subject_id


def _due_in_index(settings: Settings, now: datetime) -> set[str]:
    return {candidate.subject_id for _, candidate in disposal.RetentionSweep(settings).candidates(now) if candidate}


def _last_invoked_is_the_erasure_steps(stack: LocalStack) -> None:
    """The in-process runtime drops cached clients when it switches function; counted clients must stay."""
    name = stack.resources.functions["erasure_steps"].name
    stack.clients("lambda").invoke(FunctionName=name, Payload=json.dumps({"step": "warm-up"}).encode())


def _finish(stack: LocalStack, request_ids: list[str]) -> None:
    for request_id in request_ids:
        assert wait_for_execution(stack, request_id)["status"] == "SUCCEEDED"


def test_an_inactive_customer_is_erased_with_reason_retention_and_an_active_one_is_not(
    local_stack: LocalStack, settings: Settings, new_customer: Any, active_at: Travel
) -> None:
    inactive: Customer = new_customer()
    active: Customer = new_customer()
    with active_at(NOW):
        assert (
            inactive.call("POST", "/v1/me/consents", {"purpose": "crm_core", "policy_version": "2026-11"}).status == 201
        )
        assert inactive.call("PUT", "/v1/me/profile", {"contact": {"phone": "+84900000001"}}).status == 200
    with active_at(NOW + timedelta(days=settings.inactivity_days - 30)):  # came back a month before the sweep
        assert (
            active.call("POST", "/v1/me/consents", {"purpose": "crm_core", "policy_version": "2026-11"}).status == 201
        )

    sweep_at = _past_the_period(settings, NOW)
    report = _as_retention(disposal.RetentionSweep(settings).run, sweep_at)
    registry = RequestsTable(settings)
    reasons = {registry.erasure(request_id).subject_id: request_id for request_id in report.request_ids}  # type: ignore[union-attr]
    assert inactive.subject_id in reasons
    assert active.subject_id not in reasons
    _finish(local_stack, report.request_ids)

    item = registry.load(reasons[inactive.subject_id]) or {}
    assert item["status"] == "completed"
    assert item["reason"] == item["certificate"]["reason"] == "retention"
    assert item["certificate"]["unrecoverable_after"] == clock.iso(
        retention.unrecoverable_after(clock.parse(item["key_shredded_at"]), settings)
    )
    subjects = SubjectRegistry(settings)
    assert subjects.load(inactive.subject_id).status.value == "erased"
    assert subjects.load(active.subject_id).status.value == "active"
    assert active.call("GET", "/v1/me").status == 200

    entry = next(
        e
        for e in disposal.register(settings, NOW - timedelta(days=1), sweep_at)
        if e["request_id"] == reasons[inactive.subject_id]
    )
    assert (entry["reason"], entry["policy"], entry["version"]) == (
        "retention",
        "inactivity",
        datamap.RETENTION_POLICY_VERSION,
    )
    assert entry["verification"].startswith("passed")
    assert entry["destroyed_at"]
    assert entry["stores"]
    text = json.dumps(entry)
    assert "+84900000001" not in text
    assert inactive.email not in text


def test_a_second_run_starts_nothing_and_the_sweep_only_queries_the_index(
    settings: Settings, active_at: Travel, local_stack: LocalStack
) -> None:
    moment = NOW + timedelta(days=40)
    subject_id = _subject(settings, active_at, moment)
    sweep_at = _past_the_period(settings, moment)
    sweep = disposal.RetentionSweep(settings)
    first = _as_retention(sweep.run, sweep_at)
    assert first.started >= 1
    _finish(local_stack, first.request_ids)
    with counting_calls("dynamodb", "stepfunctions") as calls:
        again = _as_retention(sweep.run, sweep_at)
    assert (again.started, again.candidates) == (0, 0)
    assert subject_id not in _due_in_index(settings, sweep_at)
    assert calls["dynamodb.Scan"] == 0
    assert calls["sfn.StartExecution"] == 0
    assert again.buckets_queried == len(
        subjects.due_buckets(retention.inactivity_cutoff(sweep_at, settings), settings.activity_epoch_month)
    )
    # Besides the inactivity buckets: one Query of the held requests, one per retention-index shard.
    assert calls["dynamodb.Query"] == again.index_queries == again.buckets_queried + 1 + datamap.ACTIVITY_SHARDS


def test_the_sweep_is_bounded_and_the_next_run_continues(
    settings: Settings, active_at: Travel, local_stack: LocalStack
) -> None:
    moment = NOW + timedelta(days=80)
    made = {_subject(settings, active_at, moment) for _ in range(3)}
    sweep_at = _past_the_period(settings, moment)
    due = _due_in_index(settings, sweep_at)
    assert made <= due
    bounded = settings.model_copy(update={"retention_batch_max": 2})
    _last_invoked_is_the_erasure_steps(local_stack)
    sweep = disposal.RetentionSweep(bounded)
    started: list[str] = []
    runs = []
    CLAIMED_HEADS.clear()  # a cold process: the first run reads its chain's head, the later ones remember it
    with (
        counting_calls("dynamodb", "stepfunctions", "s3") as calls,
        counting_calls("dynamodb", "stepfunctions", "s3", this_thread_only=True) as own,
    ):
        while True:
            report = _as_retention(sweep.run, sweep_at)
            runs.append(report)
            started += report.request_ids
            if not report.started:
                break
    assert [run.started for run in runs][:-1] == [2] * (len(due) // 2) + ([len(due) % 2] if len(due) % 2 else [])
    assert next(run.deferred for run in runs) is (len(due) > 2)
    assert len(started) == len(set(started)) == len(due)
    assert calls["sfn.StartExecution"] == len(due)
    assert calls["dynamodb.Scan"] == 0
    # The sweep's own calls (the workflows run in other threads): per erasure started, two reads of
    # the subject, one transaction, the audit append (a new chain: its head is read), the slot's
    # claim and the start; per run, the index Queries (the inactivity buckets, the held requests, the
    # retention index's shards) and the run's audit event (the head read by the first run only).
    queries = sum(run.index_queries for run in runs)
    per_run = {"dynamodb.UpdateItem": 1, "s3.PutObject": 1}
    per_erasure = {"dynamodb.GetItem": 3, "dynamodb.TransactWriteItems": 1, "dynamodb.UpdateItem": 2}
    per_erasure |= {"s3.PutObject": 1, "sfn.StartExecution": 1}
    expected = {name: count * len(runs) for name, count in per_run.items()}
    for name, count in per_erasure.items():
        expected[name] = expected.get(name, 0) + count * len(due)
    expected["dynamodb.Query"] = queries
    expected["dynamodb.GetItem"] += 1
    assert dict(own) == expected
    _finish(local_stack, started)


def test_a_customer_already_being_erased_is_skipped_and_leaves_the_index(
    settings: Settings, new_customer: Any, active_at: Travel, local_stack: LocalStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    leaving: Customer = new_customer()
    moment = NOW + timedelta(days=120)
    with active_at(moment):
        assert (
            leaving.call("POST", "/v1/me/consents", {"purpose": "crm_core", "policy_version": "2026-11"}).status == 201
        )
        with monkeypatch.context() as paused:  # the withdrawal is recorded, its workflow not started yet
            paused.setattr(ErasureStarter, "start", lambda self, request, attempt=0: request.request_id)
            withdrawal = leaving.call("POST", "/v1/me/withdrawal")
    assert withdrawal.status == 202
    sweep_at = _past_the_period(settings, moment)
    assert leaving.subject_id in _due_in_index(settings, sweep_at)
    report = _as_retention(disposal.RetentionSweep(settings).run, sweep_at)
    assert report.skipped >= 1
    assert leaving.subject_id not in _due_in_index(settings, sweep_at)
    assert not [r for r in report.request_ids if RequestsTable(settings).erasure(r).subject_id == leaving.subject_id]  # type: ignore[union-attr]
    _finish(local_stack, report.request_ids)


def test_a_finished_erasure_takes_the_customer_out_of_the_index_itself(
    settings: Settings, new_customer: Any, active_at: Travel, local_stack: LocalStack
) -> None:
    """The subject's tombstone (issue 16) holds no index attribute: no sweep is needed to clean up."""
    leaving: Customer = new_customer()
    moment = NOW + timedelta(days=121)
    with active_at(moment):
        assert (
            leaving.call("POST", "/v1/me/consents", {"purpose": "crm_core", "policy_version": "2026-11"}).status == 201
        )
        withdrawal = leaving.call("POST", "/v1/me/withdrawal")
    _finish(local_stack, [withdrawal.body["request_id"]])
    assert leaving.subject_id not in _due_in_index(settings, _past_the_period(settings, moment))


def test_the_oldest_open_erasure_is_measured_from_the_index(settings: Settings, local_stack: LocalStack) -> None:
    request = ErasureRequest.new(str(uuid.uuid4()), ErasureReason.RETENTION, ())
    dynamo.transact([RequestsTable(settings).put_new(request)])
    later = clock.parse(request.created_at) + timedelta(days=8)
    with counting_calls("dynamodb") as calls:
        opened = _as_retention(disposal.open_erasures, settings, later)
    assert opened.count >= 1
    assert opened.oldest_age_seconds >= 8 * 86_400
    assert calls["dynamodb.Scan"] == 0


def test_the_scheduled_function_answers_both_tasks(local_stack: LocalStack) -> None:
    client = local_stack.clients("lambda")
    name = local_stack.resources.functions["retention"].name
    for task in ("sla", "sweep"):
        reply = client.invoke(FunctionName=name, Payload=json.dumps({"task": task}).encode())
        body = json.loads(reply["Payload"].read())
        assert "FunctionError" not in reply, body
        assert body["task"] == task
        assert body["open_erasures"] >= 0


def test_the_local_stack_expires_exports_and_interactions_from_the_data_map(local_stack: LocalStack) -> None:
    s3, dynamodb = local_stack.clients("s3"), local_stack.clients("dynamodb")
    (rule,) = s3.get_bucket_lifecycle_configuration(Bucket=local_stack.resources.buckets["exports"])["Rules"]
    assert rule["Expiration"]["Days"] == datamap.category("exports").retention_days
    ttl = dynamodb.describe_time_to_live(TableName=local_stack.resources.tables["interactions"])
    assert ttl["TimeToLiveDescription"]["AttributeName"] == datamap.store("interactions").ttl_attribute  # type: ignore[union-attr]


def test_the_cli_plans_sweeps_and_lists_the_register(
    local_stack: LocalStack,
    settings: Settings,
    active_at: Travel,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    place = target.Target(settings, local_stack.clients, "the test's local stack", "")
    monkeypatch.setattr(target, "resolve", lambda args: place)
    moment = NOW + timedelta(days=200)
    subject_id = _subject(settings, active_at, moment)
    due = retention.disposal_due(clock.parse(clock.iso(moment)), settings)
    before = clock.iso(due - timedelta(days=10))
    assert cli.main(["retention", "plan", "--now", before, "--json"], configure_logging=False) == 0
    plan = json.loads(capsys.readouterr().out)
    (entry,) = [e for e in plan["customers_due"] if e["subject_id"] == subject_id]
    assert entry["due_at"] == clock.iso(due)
    assert entry["overdue"] is False
    assert {rule["store"] for rule in plan["standing"]} >= {"interactions", "exports", "backups"}

    after = clock.iso(due + timedelta(hours=1))
    assert cli.main(["retention", "sweep", "--now", after, "--force-now"], configure_logging=False) == 0
    swept = json.loads(capsys.readouterr().out)
    assert swept["started"] >= 1
    _finish(local_stack, swept["request_ids"])
    assert cli.main(["retention", "register", "--since", NOW.date().isoformat()], configure_logging=False) == 0
    out = capsys.readouterr().out
    assert subject_id in out
    assert "reason retention under policy inactivity" in out
    assert "verification: passed" in out
