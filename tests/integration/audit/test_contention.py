"""The ledger under contention: N writers (threads) appending at once, on one chain and on a sharded family.

Every test asserts counts. The backoff's sleeps run at `TIME_SCALE` of their length: moto answers a
claim in about 5 ms here, as DynamoDB does, but runs every thread's calls on one core, so the tests'
wall time is moto's work, not the waits. What is asserted — every event written, seqs 1..K without
a gap or a fork, one put per event, claims per event — does not depend on how long anything took,
except the claims' bound, which is given room over what was measured. A burst of K ≤
`max_attempts` events on one chain cannot lose one: a refused claim means another event was
appended (the refusal names the new head).
"""

from __future__ import annotations

import os
import threading
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from typing import Any

import pytest
from botocore.exceptions import ClientError
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from moto import mock_aws

from custody.audit.grammar import CHAIN_SHARDS, shard_chains
from custody.audit.ledger import (
    CLAIM_BACKOFF,
    CLAIMED_HEADS,
    PUT_ATTEMPTS,
    SHARD,
    AuditLedger,
    AuditWriteFailed,
    refusals_chain,
)
from custody.audit.review.reader import AuditorReader
from custody.audit.review.verification import verify
from custody.declared.settings import Settings, get_settings
from custody.platform import aws
from custody.stores.ledger_bucket import LedgerBucket
from devstack import atomicity
from devstack.metering import counting_calls
from devstack.provision import client_factory, provision
from ops import cli, target

TIME_SCALE = 0.5
BURST = CLAIM_BACKOFF.max_attempts  # events per test: the most a burst can hold and provably lose none
# Claims (UpdateItem) per written event, as measured in three runs on this 2-core machine shared with
# other suites (one chain: 2 writers 1.17 to 1.23, 8 writers 2.75 to 3.70, 32 writers 9.4 to 12.1;
# the sharded family at 32 writers 1.73 to 2.02), given room: threads are scheduled differently
# under load.
CLAIMS_PER_EVENT = {2: 2.0, 8: 6.0, 32: 16.0}
SHARDED_CLAIMS_PER_EVENT = 3.0


@pytest.fixture(scope="module")
def ledger_settings() -> Iterator[Settings]:
    """A moto account with the stack's tables and buckets; the functions' settings pointing at it."""
    atomicity.install()  # DynamoDB's atomic conditional writes, which moto lacks under threads
    saved = dict(os.environ)
    try:
        with mock_aws():
            resources = provision(client_factory("us-east-1"))
            os.environ.update(resources.environment)
            get_settings.cache_clear()
            aws.reset_clients()
            yield get_settings()
    finally:
        os.environ.clear()
        os.environ.update(saved)
        get_settings.cache_clear()
        aws.reset_clients()
        atomicity.uninstall()


@dataclass
class Burst:
    asked: int
    written: list[Any] = field(default_factory=list)
    errors: list[BaseException] = field(default_factory=list)
    calls: Counter[str] = field(default_factory=Counter)


def burst(ledger: AuditLedger, chain: str, writers: int, events: int) -> Burst:
    """`writers` threads, released together, each record `events` events on `chain`."""
    result = Burst(writers * events)
    start = threading.Barrier(writers)
    lock = threading.Lock()
    CLAIMED_HEADS.clear()  # cold processes: each writer reads the head once

    def write(worker: int) -> None:
        start.wait()
        for index in range(events):
            try:
                event = ledger.record(
                    step="access_refused",
                    target="POST /v1/me/consents",
                    outcome="forbidden",
                    actor="public",
                    chain_id=chain,
                    counts={"asked": worker * events + index},
                )
            except BaseException as error:  # counted: a lost event fails the test
                with lock:
                    result.errors.append(error)
                continue
            with lock:
                result.written.append(event)

    with counting_calls("dynamodb", "s3") as calls:
        threads = [threading.Thread(target=write, args=(worker,)) for worker in range(writers)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    result.calls = Counter(calls)
    return result


def reader(settings: Settings) -> AuditorReader:
    return AuditorReader(settings, client_factory(settings.region))


@pytest.mark.parametrize("writers", [2, 8, 32])
def test_writers_on_one_chain_write_every_event_in_one_line(ledger_settings: Settings, writers: int) -> None:
    ledger = AuditLedger(ledger_settings, backoff=replace(CLAIM_BACKOFF, time_scale=TIME_SCALE))
    chain_id = str(uuid.uuid4())
    found = burst(ledger, chain_id, writers, BURST // writers)

    assert found.errors == []
    assert len(found.written) == found.asked == BURST
    chain = reader(ledger_settings).chain(chain_id, with_history=False)
    verification = verify(chain)
    assert verification.ok, verification.findings
    assert [event.seq for event in chain.latest_events()] == list(range(1, BURST + 1))
    assert chain.head == {"seq": BURST, "hash": chain.latest_events()[-1].hash}
    assert found.calls["s3.PutObject"] == BURST  # one put per event: no retry, no second version
    assert found.calls["dynamodb.GetItem"] <= writers  # a head read per cold writer at most, none per retry
    assert found.calls["dynamodb.UpdateItem"] <= CLAIMS_PER_EVENT[writers] * BURST


def test_writers_on_a_shared_family_spread_over_its_shards(ledger_settings: Settings) -> None:
    ledger = AuditLedger(ledger_settings, backoff=replace(CLAIM_BACKOFF, time_scale=TIME_SCALE))
    family = refusals_chain("processors")
    writers = 32
    found = burst(ledger, family, writers, BURST // writers)

    assert found.errors == []
    assert len(found.written) == BURST
    assert {event.chain_id for event in found.written} <= set(shard_chains(family))
    chains = reader(ledger_settings).chains(family, with_history=False)
    assert 1 < len(chains) <= CHAIN_SHARDS  # the family's own chain was never written: shards only
    events = 0
    for chain in chains:
        verification = verify(chain)
        assert verification.ok, verification.findings
        seqs = [event.seq for event in chain.latest_events()]
        assert seqs == list(range(1, len(seqs) + 1))
        events += len(seqs)
    assert events == BURST
    assert found.calls["s3.PutObject"] == BURST
    assert found.calls["dynamodb.UpdateItem"] <= SHARDED_CLAIMS_PER_EVENT * BURST


def test_an_event_missing_from_one_shard_is_found(ledger_settings: Settings) -> None:
    ledger = AuditLedger(ledger_settings, backoff=replace(CLAIM_BACKOFF, time_scale=0.0))
    family = refusals_chain("staff")
    for shard in ("03", "11"):
        SHARD.name = shard
        for _ in range(3):
            ledger.record(step="access_refused", target="route", outcome="forbidden", actor="staff", chain_id=family)
    auditor = reader(ledger_settings)
    assert [chain.chain_id for chain in auditor.chains(family)] == [f"{family}/03", f"{family}/11"]
    assert f"{family}/07" in auditor.chain_ids()  # --all reads every shard, written or not

    s3 = client_factory(ledger_settings.region)("s3")
    bucket = auditor.bucket
    listed = s3.list_object_versions(Bucket=bucket, Prefix=f"ledger/{family}/11/")["Versions"]
    second = sorted(item["Key"] for item in listed)[1]
    s3.delete_object(Bucket=bucket, Key=second)  # a delete marker: what Object Lock still allows
    chains = {chain.chain_id: chain for chain in auditor.chains(family)}
    assert verify(chains[f"{family}/03"]).ok
    assert [finding.kind for finding in verify(chains[f"{family}/11"]).findings] == ["deleted"]
    del chains[f"{family}/11"].events[second]  # dropped, as only a bucket without Object Lock allows
    assert [str(finding) for finding in verify(chains[f"{family}/11"]).findings] == [
        f"deleted: {second} is hidden by a delete marker (its locked versions remain)",
        "gap: event seq 2 is missing",
    ]


def test_a_shard_whose_events_are_all_gone_still_fails_on_its_head(ledger_settings: Settings) -> None:
    auditor = reader(ledger_settings)
    family = refusals_chain("erase")
    dynamodb = client_factory(ledger_settings.region)("dynamodb")
    dynamodb.put_item(  # a head with no event under it: as if the shard's objects had never been kept
        TableName=ledger_settings.table("audit_chains"),
        Item={"chain_id": {"S": f"{family}/05"}, "seq": {"N": "2"}, "hash": {"S": "f" * 64}},
    )
    chains = auditor.chains(family)
    assert [chain.chain_id for chain in chains] == [f"{family}/05"]
    assert [finding.kind for finding in verify(chains[0]).findings] == ["head"]


def test_a_budget_spent_on_a_chain_that_keeps_moving_raises_and_writes_nothing(ledger_settings: Settings) -> None:
    pauses: list[float] = []
    backoff = replace(CLAIM_BACKOFF, max_attempts=5, sleep=pauses.append)
    ledger = AuditLedger(ledger_settings, backoff=backoff)
    chain_id = str(uuid.uuid4())
    ledger.record(step="freeze", target="workflow", outcome="ok", actor="erasure-workflow", chain_id=chain_id)
    original = ledger.chains.claim

    def moved_meanwhile(chain: str, seq: int, event_hash: str, at: str, previous: int | None) -> Any:
        CLAIMED_HEADS.clear()
        return original(chain, seq, event_hash, at, (previous or 0) - 1)  # always one behind: refused

    ledger.chains.claim = moved_meanwhile  # type: ignore[method-assign,assignment]
    with counting_calls("dynamodb", "s3") as calls, pytest.raises(AuditWriteFailed):
        ledger.record(step="verify", target="workflow", outcome="ok", actor="erasure-workflow", chain_id=chain_id)
    assert dict(calls) == {"dynamodb.UpdateItem": 5}  # five tries, each one call; no read, no put
    assert len(pauses) == 4  # a wait between tries, none after the last
    assert all(0 <= pause <= backoff.ceiling(attempt) for attempt, pause in enumerate(pauses, start=1))
    chain = reader(ledger_settings).chain(chain_id, with_history=False)
    assert [event.step for event in chain.latest_events()] == ["freeze"]
    assert verify(chain).ok


def _s3_error(code: str, status: int) -> ClientError:
    response: Any = {"Error": {"Code": code}, "ResponseMetadata": {"HTTPStatusCode": status}}
    return ClientError(response, "PutObject")


# Each put try of an event: S3 answers ("ok"), fails transiently ("throttle": a 503 SlowDown), or
# stores the object and loses the answer ("lost": the object is there, the caller sees a timeout).
PUT_OUTCOMES = st.lists(st.sampled_from(["ok", "throttle", "lost"]), min_size=1, max_size=PUT_ATTEMPTS)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(script=st.lists(PUT_OUTCOMES, min_size=1, max_size=5))
def test_failed_and_lost_puts_leave_no_gap_no_fork_and_no_second_version(
    ledger_settings: Settings, script: list[list[str]]
) -> None:
    ledger = AuditLedger(ledger_settings, backoff=replace(CLAIM_BACKOFF, time_scale=0.0))
    chain_id = str(uuid.uuid4())
    bucket = LedgerBucket(ledger_settings)
    original = bucket.put
    tries: list[str] = []

    def scripted(key: str, body: bytes) -> bool:
        outcome = tries.pop(0) if tries else "ok"
        if outcome == "throttle":
            raise _s3_error("SlowDown", 503)
        created = original(key, body)
        if outcome == "lost":
            raise _s3_error("InternalError", 500)
        return created

    ledger.objects.put = scripted  # type: ignore[method-assign]
    kept = 0
    for outcomes in script:
        tries[:] = outcomes
        answered = "ok" in outcomes or len(outcomes) < PUT_ATTEMPTS  # a try past the script answers
        stored = answered or "lost" in outcomes
        try:
            ledger.record(step="freeze", target="workflow", outcome="ok", actor="erasure-workflow", chain_id=chain_id)
        except AuditWriteFailed:
            assert not answered  # only a try failing every time gives the event up
        else:
            assert answered
        kept += stored
    chain = reader(ledger_settings).chain(chain_id, with_history=False)
    verification = verify(chain)
    # Throttled every time: the claim given back, no gap. An answer lost: the claim kept, and the
    # object S3 stored is the event at that seq. Never a fork, never a second version of a key.
    assert verification.ok, verification.findings
    assert verification.events == kept


def test_the_auditors_commands_read_a_family_as_its_shards(
    ledger_settings: Settings, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Any
) -> None:
    def resolve(_: object) -> target.Target:
        return target.Target(ledger_settings, client_factory(ledger_settings.region), "the test's moto", "")

    monkeypatch.setattr(target, "resolve", resolve)
    ledger = AuditLedger(ledger_settings, backoff=replace(CLAIM_BACKOFF, time_scale=0.0))
    family = refusals_chain("subject_access")
    for shard in ("00", "15"):
        SHARD.name = shard
        ledger.record(step="access_refused", target="route", outcome="forbidden", actor="public", chain_id=family)

    assert cli.main(["audit", "verify", family], configure_logging=False) == 0
    assert cli.main(["audit", "show", family, "--brief"], configure_logging=False) == 0
    report = tmp_path / "family.html"
    assert cli.main(["audit", "report", family, "--html", str(report)], configure_logging=False) == 0
    out = capsys.readouterr().out
    for shard in ("00", "15"):
        assert out.count(f"chain {family}/{shard} VERIFIED: 1 events") == 3  # verify, show, report
    assert f"chain {family} VERIFIED" not in out  # the family's own chain was never written
    assert report.read_text().count("<section>") == 2
    code = cli.main(["audit", "verify", "--all"], configure_logging=False)
    out = capsys.readouterr().out
    assert f"chain {family}/00 VERIFIED" in out
    assert f"chain {family}/15 VERIFIED" in out
    assert code == (1 if "FAILED" in out else 0)  # the module's other tests plant findings in their chains
