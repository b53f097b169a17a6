"""Verifying a chain: pure, no AWS.

`verify(chain)` recomputes every hash and link and names each problem it finds (gap, fork,
reordered, altered, extra_version, deleted, foreign, head, certificate, history, retention;
docs/audit.md).
"""

from __future__ import annotations

from collections import Counter
from typing import Any, Final

from custody.audit.ledger import GENESIS, AuditEvent, digest
from custody.audit.review.chain import EVENT_NAME, Chain, Finding, Verification, parse_event
from custody.declared import datamap

WORKFLOW_ACTOR: Final = "erasure-workflow"


def verify(chain: Chain) -> Verification:
    """The verdict on `chain`: its length, head and attested certificate, and every finding (none: ok)."""
    findings: list[Finding] = []
    findings += _object_findings(chain)
    events = chain.latest_events()
    findings += _link_findings(chain, events)
    last = events[-1] if events else None
    findings += _head_findings(chain, last)
    certificate_digest, certificate_findings = _certificate_findings(chain, events)
    findings += certificate_findings
    findings += _retention_findings(chain.certificates().get(certificate_digest or ""), events)
    findings += _history_findings(chain, events)
    return Verification(
        chain.chain_id,
        len(events),
        last.seq if last else 0,
        last.hash if last else GENESIS,
        certificate_digest,
        tuple(findings),
    )


def _object_findings(chain: Chain) -> list[Finding]:
    findings = []
    for key in sorted(chain.deleted):
        findings.append(Finding("deleted", f"{key} is hidden by a delete marker (its locked versions remain)"))
    for key, versions in {**chain.events, **chain.documents}.items():
        if len(versions) > 1:
            ids = ", ".join(version.version_id for version in versions[1:])
            findings.append(Finding("extra_version", f"{key} has {len(versions)} versions: written again as {ids}"))
    findings += [Finding("foreign", f"{key} is not an audit event") for key in chain.foreign]
    return findings


def _link_findings(chain: Chain, events: list[AuditEvent]) -> list[Finding]:
    findings = []
    by_hash = {event.hash: event for event in events}
    for key, versions in chain.events.items():
        name = EVENT_NAME.fullmatch(key.rsplit("/", 1)[-1])
        assert name is not None
        event = parse_event(versions[-1].body)
        if event is None:
            findings.append(Finding("altered", f"{key} is not an audit event"))
            continue
        if digest(event.body()) != event.hash:
            findings.append(Finding("altered", f"event seq {event.seq} ({key}): its content does not match its hash"))
        if (int(name["seq"]), name["event_id"], chain.chain_id) != (event.seq, event.event_id, event.chain_id):
            findings.append(
                Finding("reordered", f"{key} holds event seq {event.seq} of chain {event.chain_id}: moved or swapped")
            )
    seqs = Counter(event.seq for event in events)
    for seq, count in sorted(seqs.items()):
        if count > 1:
            findings.append(Finding("fork", f"{count} events claim seq {seq}"))
    expected = set(range(1, max(seqs, default=0) + 1))
    for seq in sorted(expected - set(seqs)):
        findings.append(Finding("gap", f"event seq {seq} is missing"))
    previous: AuditEvent | None = None
    for event in events:
        wanted = previous.hash if previous is not None and previous.seq == event.seq - 1 else None
        if event.seq == 1:
            wanted = GENESIS
        if wanted is not None and event.prev_hash != wanted:
            follows = by_hash.get(event.prev_hash)
            if follows is not None:
                findings.append(
                    Finding("reordered", f"event seq {event.seq} follows seq {follows.seq}, not seq {event.seq - 1}")
                )
            else:
                findings.append(
                    Finding("altered", f"event seq {event.seq} does not link to seq {event.seq - 1}'s hash")
                )
        if previous is not None and event.at < previous.at:
            findings.append(Finding("reordered", f"event seq {event.seq} is dated before seq {previous.seq}"))
        previous = event
    return findings


def _head_findings(chain: Chain, last: AuditEvent | None) -> list[Finding]:
    if not chain.head_readable or (chain.head is None and last is None):
        return []
    if chain.head is None:
        return [Finding("head", "the chain has events but no head in the chain table")]
    if last is None or (chain.head["seq"], chain.head["hash"]) != (last.seq, last.hash):
        shown = f"seq {last.seq}" if last else "no event"
        return [Finding("head", f"the chain head is seq {chain.head['seq']} but the ledger ends at {shown}")]
    return []


def _certificate_findings(chain: Chain, events: list[AuditEvent]) -> tuple[str | None, list[Finding]]:
    certifications = [event for event in events if event.step == "certify" and event.outcome == "ok"]
    certificates = chain.certificates()
    if not certifications:
        orphans = [Finding("certificate", f"certificate {sha[:16]}… is attested by no event") for sha in certificates]
        return None, orphans
    attested = certifications[0].attests
    certificate = certificates.get(attested or "")
    if certificate is None:
        seq = certifications[0].seq
        return attested, [Finding("certificate", f"no filed certificate has the digest event seq {seq} attests")]
    findings = []
    cited = certificate.get("ledger") or {}
    seq, head_hash = int(cited.get("head_seq", -1)), str(cited.get("head_hash", ""))
    by_seq = {event.seq: event for event in events}
    cited_event = by_seq.get(seq)
    if seq != 0 and (cited_event is None or cited_event.hash != head_hash):
        findings.append(Finding("certificate", f"the certificate cites seq {seq} with a hash the ledger does not hold"))
    follower = by_seq.get(seq + 1)
    if follower is None or follower.step != "certify" or follower.attests != attested:
        findings.append(Finding("certificate", f"the event after the cited seq {seq} is not the certificate's own"))
    executions = {execution.arn: execution for execution in chain.executions}
    if chain.executions:
        execution = executions.get(str(certificate.get("execution_arn")))
        if execution is None:
            findings.append(Finding("certificate", "the certificate names an execution this request does not have"))
        elif execution.status == "RUNNING" and "certify" in execution.succeeded_steps():
            pass  # certified; the sub-processors are asked after the certificate, and may still be answering
        elif execution.status != "SUCCEEDED":
            findings.append(Finding("certificate", f"the certificate's execution is {execution.status}"))
    return attested, findings


def _retention_findings(certificate: dict[str, Any] | None, events: list[AuditEvent]) -> list[Finding]:
    """What the certificate says a legal obligation kept, or ended, checked against the data map and the chain.

    Kept (`retained`): each category is one the data map keeps under that obligation, with its legal basis
    and key version; it is not in the erased scope; its key is not among those shredded; its last day is
    not before the certificate's date; and the chain recorded it before the certificate (`records_retained`,
    target `obligation/<name>:<last day>`, the category's count). Ended (`obligations_ended`, reason
    `retention_obligation_ended`): each obligation is declared, its last day before the certificate's date,
    its categories in the scope and its key among those shredded.
    """
    if certificate is None:
        return []
    findings = []
    completed = str(certificate.get("completed_at", ""))[:10]
    scope = set(certificate.get("scope") or ())
    shredded = set(certificate.get("keys_shredded") or ())
    certify_seq = next((event.seq for event in events if event.step == "certify" and event.outcome == "ok"), None)
    recorded = {
        event.target: event.counts
        for event in events
        if event.step == "records_retained" and (certify_seq is None or event.seq < certify_seq)
    }
    kept = list(certificate.get("retained") or ())
    last_day: dict[str, str] = {}
    for entry in kept:
        obligation = str(entry.get("obligation"))
        last_day[obligation] = max(str(entry.get("until")), last_day.get(obligation, ""))
    for entry in kept:
        category, obligation = str(entry.get("category")), str(entry.get("obligation"))
        declared = datamap.OBLIGATIONS.get(obligation)
        under = next((item.obligation for item in datamap.CATEGORIES if item.name == category), None)
        if declared is None or under != declared.name:
            findings.append(Finding("retention", f"{category} is kept under {obligation}, which the data map does not"))
            continue
        if entry.get("legal_basis") != declared.legal_basis or entry.get("key_version") != declared.key_version:
            findings.append(Finding("retention", f"{category}: the legal basis or key version is not {obligation}'s"))
        if category in scope or declared.key_version in shredded:
            findings.append(Finding("retention", f"{category} is certified both kept and erased"))
        if str(entry.get("until")) < completed:
            findings.append(Finding("retention", f"{category} is kept past the end of its obligation"))
        counts = recorded.get(f"obligation/{obligation}:{last_day[obligation]}")
        if counts is None or counts.get(category) != entry.get("items"):
            findings.append(
                Finding("retention", f"no records_retained event before the certificate attests {category}")
            )
    for ended in certificate.get("obligations_ended") or ():
        name = str(ended.get("obligation"))
        declared = datamap.OBLIGATIONS.get(name)
        if declared is None or certificate.get("reason") != "retention_obligation_ended":
            findings.append(Finding("retention", f"the obligation {name} ended under no such obligation or reason"))
            continue
        if str(ended.get("until")) >= completed:
            findings.append(Finding("retention", f"{name}'s records were erased before its last day passed"))
        if not set(ended.get("categories") or ()) <= scope or declared.key_version not in shredded:
            findings.append(Finding("retention", f"{name}'s records or key are not certified erased"))
    return findings


def _history_findings(chain: Chain, events: list[AuditEvent]) -> list[Finding]:
    if not chain.executions:
        return []
    history: Counter[str] = Counter()
    for execution in chain.executions:
        history.update(execution.succeeded_steps())
    ledger = Counter(
        event.step for event in events if event.actor == WORKFLOW_ACTOR and event.outcome in ("ok", "failed")
    )
    findings = []
    for step in sorted(set(history) | set(ledger)):
        if history[step] != ledger[step]:
            findings.append(
                Finding(
                    "history",
                    f"step {step} succeeded {history[step]} times in the execution history; "
                    f"the ledger records {ledger[step]}",
                )
            )
    return findings
