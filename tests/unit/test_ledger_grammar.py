"""The audit ledger's grammar: arbitrary text is refused unless it is one of the shapes the ledger may hold.

The ledger is under Object Lock COMPLIANCE: what it takes stays for a year. These tests check the
grammar against an independent oracle (the same shapes, written as plain regular expressions),
and that `AuditLedger.record` refuses before it touches AWS.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from custody.audit import grammar
from custody.audit.grammar import ERROR_CODES, OutsideLedgerGrammar, admits, check_event
from custody.audit.ledger import AuditLedger
from custody.declared import catalog, datamap, holds
from custody.declared.restriction import GROUNDS
from custody.declared.settings import Settings
from custody.staff_access.grants import GrantStatus
from custody.subprocessors.registry import ProcessorStatus

UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"


@dataclass(frozen=True)
class Registered:
    processor_id: str = "acme-mail"
    version: str = "2026-11-a"


ACME = Registered()
VALID: dict[str, Any] = {
    "chain_id": f"subject/{uuid.uuid4()}",
    "step": "consent_granted",
    "target": "crm_core",
    "outcome": "ok",
    "actor": "customer:api",
    "request_id": None,
    "subject_id": str(uuid.uuid4()),
    "counts": {},
    "attests": None,
}


def _words() -> set[str]:
    return (
        set(grammar.STEPS)
        | set(grammar.OUTCOMES)
        | set(grammar.ERROR_CODES)
        | set(grammar.TARGET_WORDS)
        | set(grammar.ACTOR_WORDS)
        | set(grammar.COUNT_NAMES)
        | set(grammar.CHANNELS)
        | set(datamap.PURPOSES)
        | {f"{route.method} {route.path}" for route in catalog.ROUTES}
        | {f"refusals/{function.name}" for function in catalog.FUNCTIONS}
        | {"retention/sweeps"}
    )


WORDS = _words()
WORD = "|".join(re.escape(word) for word in sorted(WORDS, key=len, reverse=True))
# The oracle: every shape that may hold more than a word, as one plain expression each.
SHARD = "|".join(re.escape(name) for name in grammar.SHARD_NAMES)
ORACLE = re.compile(
    rf"^(?:(?:{WORD})|refusals/[a-z_]+/(?:{SHARD})|{UUID}|(?:subject|staff|grant|change_request)/{UUID}|(?:customer|staff|processor|public):{UUID}"
    rf"|grant/{UUID}:[a-z_]+|error:[A-Z][A-Za-z0-9]*|change_requests:\d+|consent:[a-z_:]+|(?:objection|restriction):[a-z_]+"
    rf"|(?:interaction|invoice)/\d{{4}}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{{3}}Z#{UUID}|[0-9a-f]{{64}}"
    rf"|(?:legal_hold|obligation)/[a-z_]+:\d{{4}}-\d\d-\d\d)(?::[a-z_]+)?$"
)


def test_every_vocabulary_word_is_admitted_and_the_domain_enums_are_in_it() -> None:
    assert all(admits(word) for word in WORDS)
    assert {status.value for status in GrantStatus} <= grammar.OUTCOMES
    assert {status.value for status in ProcessorStatus} <= grammar.OUTCOMES


@settings(max_examples=400, deadline=None)
@given(text=st.text(max_size=80))
def test_arbitrary_text_is_refused_unless_the_oracle_admits_it(text: str) -> None:
    if admits(text):
        assert ORACLE.match(text), text


@settings(max_examples=200, deadline=None)
@given(
    text=st.text(min_size=1, max_size=60).filter(
        # an error code after a word is a refusal's target (`sharing:conflict`), not caller text
        lambda value: (
            not re.fullmatch(UUID, value)
            and value not in ERROR_CODES
            and value not in datamap.PURPOSES
            and value not in GROUNDS
            # a declared hold reason, obligation or a calendar day is what those shapes hold, not caller text
            and value not in holds.REASONS
            and value not in datamap.OBLIGATIONS
            and not grammar.is_date(value)
        )
    )
)
def test_caller_text_inside_a_valid_shape_is_refused(text: str) -> None:
    for field, value in (
        ("chain_id", f"subject/{text}"),
        ("chain_id", f"processors/{text}"),
        ("target", f"sharing:{text}"),
        ("target", f"consent:sharing:{text}"),
        ("target", f"objection:{text}"),
        ("target", f"restriction:{text}"),
        ("target", f"grant/{text}"),
        ("target", f"processor/{text}"),
        ("target", f"legal_hold/{text}:2027-06-30"),
        ("target", f"legal_hold/dispute:{text}"),
        ("target", f"obligation/{text}:2036-12-31"),
        ("actor", f"staff/{text}"),
        ("actor", f"processor/{text}"),
        ("subject_id", text),
        ("request_id", text),
    ):
        if text == ACME.processor_id:
            continue
        with pytest.raises(OutsideLedgerGrammar) as refused:
            check_event(**{**VALID, field: value}, processor=ACME)
        assert refused.value.field == field
        assert len(text) < 8 or text not in str(refused.value)  # the error names the field, never the value


def test_a_registry_id_is_admitted_only_with_its_loaded_agreement() -> None:
    event = {
        **VALID,
        "chain_id": "processors/acme-mail",
        "step": "processor_agreement",
        "target": "processor/acme-mail:2026-11-a",
        "actor": "processor/acme-mail",
        "subject_id": None,
    }
    check_event(**event, processor=ACME)
    with pytest.raises(OutsideLedgerGrammar):
        check_event(**event)
    with pytest.raises(OutsideLedgerGrammar):
        check_event(**event, processor=Registered("beta-mail"))
    with pytest.raises(OutsideLedgerGrammar):
        check_event(**{**event, "target": "processor/acme-mail:another-version"}, processor=ACME)
    check_event(**{**VALID, "target": "sharing:acme-mail"}, processor=ACME)
    with pytest.raises(OutsideLedgerGrammar):
        check_event(**{**VALID, "target": "sharing:acme-mail"})


def test_the_shapes_the_suites_write_are_admitted() -> None:
    grant, change, request = uuid.uuid4(), uuid.uuid4(), str(uuid.uuid4())
    for field, value in (
        ("chain_id", request),
        ("chain_id", "refusals/staff"),
        ("chain_id", "retention/sweeps"),
        ("target", "POST /v1/staff/access-grants"),
        ("target", f"grant/{grant}:payments"),
        ("target", f"grant/{grant}:forbidden"),
        ("target", "grant:consent_required"),
        ("target", f"change_request/{change}"),
        ("target", "change_requests:3"),
        ("target", f"interaction/2026-11-01T10:00:00.000Z#{uuid.uuid4()}"),
        ("target", "consent:marketing"),
        ("target", "objection:marketing"),
        ("target", "restriction"),
        *(("target", f"restriction:{ground}") for ground in GROUNDS),
        ("target", "documents"),
        ("target", f"invoice/2026-11-01T10:00:00.000Z#{uuid.uuid4()}"),
        ("target", f"grant/{grant}:legal_obligation"),
        ("target", "legal_hold/dispute:2027-06-30"),
        ("target", "legal_hold:forbidden"),
        ("target", "obligation/tax_records:2036-12-31"),
        ("outcome", "error:ResidualDataFound"),
        ("outcome", "consent_required"),
        ("actor", f"staff/{uuid.uuid4()}"),
        ("actor", f"staff:{uuid.uuid4()}"),
        ("actor", "erasure-workflow"),
        ("attests", "a" * 64),
    ):
        check_event(**{**VALID, field: value})
    check_event(**{**VALID, "counts": {"deleted": 3, "contact": 1, "buckets_queried": 2}})


def test_the_ledger_refuses_before_it_touches_aws() -> None:
    ledger = AuditLedger(Settings())
    name_like = "Firstname-Lastname-1979-03-14-POSTCODE"
    with pytest.raises(OutsideLedgerGrammar) as refused:
        ledger.record(step="staff_access_grant", target="grant", outcome="refused", actor="staff", subject_id=name_like)
    assert refused.value.field == "chain_id"  # the subject's chain, the first field checked
    with pytest.raises(OutsideLedgerGrammar):
        ledger.record(step="x", target="workflow", outcome="ok", actor="customer", chain_id="refusals/staff")
    with pytest.raises(OutsideLedgerGrammar):
        ledger.put_document(f"subject/{name_like}", "certificate", {})


def test_a_shard_is_admitted_only_by_its_declared_name_under_a_family() -> None:
    assert tuple(f"{index:02d}" for index in range(grammar.CHAIN_SHARDS)) == grammar.SHARD_NAMES
    for shard in grammar.SHARD_NAMES:
        check_event(**{**VALID, "chain_id": f"refusals/staff/{shard}"})
        check_event(**{**VALID, "chain_id": f"processors/acme-mail/{shard}"}, processor=ACME)
    beyond = f"{grammar.CHAIN_SHARDS:02d}"
    for chain in (
        f"refusals/staff/{beyond}",  # past the declared shards
        "refusals/staff/3",  # not a shard's spelling
        "refusals/nobody/03",  # no such function
        "refusals/staff/03/04",
        "subject/03",
        f"{uuid.uuid4()}/03",  # a request's chain is not sharded
        "retention/sweeps/03",
    ):
        with pytest.raises(OutsideLedgerGrammar):
            check_event(**{**VALID, "chain_id": chain})
    with pytest.raises(OutsideLedgerGrammar):
        check_event(**{**VALID, "chain_id": "processors/acme-mail/03"})  # without the loaded agreement
    assert grammar.shard_of("refusals/staff/07") == ("refusals/staff", "07")
    assert grammar.shard_of("refusals/staff") is None
    assert grammar.shard_chains("refusals/staff")[-1] == f"refusals/staff/{grammar.SHARD_NAMES[-1]}"
