"""The ledger after a full erasure: one event per step, a clean chain, a certificate that cites it."""

from __future__ import annotations

import itertools
import json
import threading
import uuid
from collections import Counter

from custody.audit.ledger import CLAIMED_HEADS, GENESIS, AuditLedger, subject_chain
from custody.audit.review.verification import verify
from custody.declared import datamap
from custody.erasure.plan import stores_in_scope
from devstack.metering import counting_calls
from tests.integration.audit.conftest import Erased

STORES = [store.name for store in datamap.STORES]


def test_a_full_erasure_verifies_clean(erased: Erased) -> None:
    chain, verification = erased.inspect()
    assert verification.ok, verification.findings
    steps = Counter(event.step for event in chain.latest_events())
    assert steps == {
        "withdrawal_requested": 1,
        "freeze": 1,
        "erase_stores": 1,
        "list_processors": 1,
        "shred_key": 1,
        "delete_identity": 1,
        "verify": 1,
        "certify": 1,
    }
    assert [execution.status for execution in chain.executions] == ["SUCCEEDED"]


def test_each_store_has_its_event_with_counts_and_the_chain_links(erased: Erased) -> None:
    chain, _ = erased.inspect()
    events = chain.latest_events()
    assert [event.seq for event in events] == list(range(1, len(events) + 1))
    assert events[0].prev_hash == GENESIS
    assert events[0].step == "withdrawal_requested"
    assert all(later.prev_hash == earlier.hash for earlier, later in itertools.pairwise(events))
    # one event for EraseStores, naming every store in scope with what the round erased from it
    (erasing,) = (event for event in events if event.step == "erase_stores")
    assert set(erasing.counts) == {*every_store_name(), "erased"}
    assert erasing.counts["profiles"] >= 1
    assert erasing.counts["documents"] == 2
    assert erasing.counts["erased"] == sum(n for name, n in erasing.counts.items() if name != "erased")
    assert {event.actor for event in events[1:]} == {"erasure-workflow"}
    assert {event.request_id for event in events} == {erased.request_id}


def test_the_certificate_cites_the_head_before_its_own_event(erased: Erased) -> None:
    chain, verification = erased.inspect()
    certificates = chain.certificates()
    assert list(certificates) == [verification.certificate_digest]
    certificate = certificates[verification.certificate_digest or ""]
    events = {event.seq: event for event in chain.latest_events()}
    cited = certificate["ledger"]
    assert cited["chain_id"] == erased.request_id
    assert events[cited["head_seq"]].hash == cited["head_hash"]
    assert events[cited["head_seq"]].step == "verify"
    own = events[cited["head_seq"] + 1]
    assert (own.step, own.attests) == ("certify", verification.certificate_digest)
    assert certificate["execution_arn"] == erased.execution_arn
    status = erased.customer.call("GET", f"/v1/requests/{erased.request_id}").body
    assert status["certificate_digest"] == verification.certificate_digest


def test_the_chain_head_table_matches_the_last_event(erased: Erased) -> None:
    chain, verification = erased.inspect()
    assert chain.head == {"seq": verification.head_seq, "hash": verification.head_hash}


def test_consents_and_a_refusal_are_on_the_subject_chain(erased: Erased) -> None:
    chain, verification = erased.inspect(subject_chain(erased.customer.subject_id))
    assert verification.ok, verification.findings
    events = chain.latest_events()
    granted = sorted(event.target for event in events if event.step == "consent_granted")
    assert granted == ["crm_core", "crm_core", "health_services", "marketing", "payments"]
    (refusal,) = [event for event in events if event.step == "access_refused"]
    assert (refusal.target, refusal.outcome, refusal.actor) == ("PUT /v1/me/profile", "consent_required", "customer")


def test_no_event_holds_a_submitted_value(erased: Erased) -> None:
    bodies = erased.every_ledger_body()
    assert len(bodies) > 8  # the events of every step and the certificate, at least
    text = "\n".join(bodies.values())
    for value in erased.submitted_values():
        assert value not in text, f"a submitted value ({len(value)} characters) is in the ledger"
    for body in bodies.values():
        assert "Quilliam" not in body
        assert "Vexbury" not in body
    assert erased.customer.subject_id in text  # opaque ids only: the chain is still attributable


def test_concurrent_appends_make_one_chain_without_a_fork(erased: Erased) -> None:
    ledger = AuditLedger(erased.settings)
    chain_id = str(uuid.uuid4())  # a request's chain: the ledger holds no other shape of id
    errors: list[BaseException] = []

    def append(worker: int) -> None:
        try:
            for round_ in range(4):
                ledger.record(
                    step="erase_stores",
                    target=STORES[worker],
                    outcome="ok",
                    actor="erasure-workflow",
                    chain_id=chain_id,
                    counts={"erased": round_},
                )
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=append, args=(worker,)) for worker in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    chain = erased.reader().chain(chain_id, with_history=False)
    verification = verify(chain)
    assert verification.ok, verification.findings
    assert [event.seq for event in chain.latest_events()] == list(range(1, 17))


def test_a_remembered_head_saves_the_read_and_a_stale_one_cannot_fork_the_chain(erased: Erased) -> None:
    ledger = AuditLedger(erased.settings)
    chain_id = str(uuid.uuid4())

    def append(step: str) -> None:
        ledger.record(step=step, target="workflow", outcome="ok", actor="erasure-workflow", chain_id=chain_id)

    append("freeze")
    stale = CLAIMED_HEADS.get(ledger.table, chain_id)
    with counting_calls("dynamodb", "s3") as calls:
        append("verify")  # this process claimed the head last: claim and put, no read
    assert dict(calls) == {"dynamodb.UpdateItem": 1, "s3.PutObject": 1}
    assert stale is not None
    CLAIMED_HEADS.put(ledger.table, chain_id, stale)  # as if another process had appended since
    with counting_calls("dynamodb", "s3") as calls:
        append("shred_key")
    # refused (the refusal names the head: no read), claimed
    assert dict(calls) == {"dynamodb.UpdateItem": 2, "s3.PutObject": 1}
    chain = erased.reader().chain(chain_id, with_history=False)
    verification = verify(chain)
    assert verification.ok, verification.findings
    assert [event.step for event in chain.latest_events()] == ["freeze", "verify", "shred_key"]


def test_the_execution_history_and_ledger_agree_step_by_step(erased: Erased) -> None:
    chain, _ = erased.inspect()
    history: Counter[str] = Counter()
    for execution in chain.executions:
        history.update(execution.succeeded_steps())
    ledger = Counter(event.step for event in chain.latest_events() if event.actor == "erasure-workflow")
    assert history == ledger
    assert json.dumps(sorted(history)) == json.dumps(sorted(ledger))


def every_store_name() -> set[str]:
    return {store.name for store in stores_in_scope(frozenset(category.name for category in datamap.CATEGORIES))}
