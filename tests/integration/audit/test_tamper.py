"""Object Lock refuses deletes; every tampering that remains possible is named by `verify`.

What moto really enforces on the COMPLIANCE-locked bucket (and S3 does the same): DeleteObject
with a VersionId is AccessDenied, DeleteObjects reports AccessDenied per version, and the
original version stays readable. A PutObject to an existing key is *not* refused — it adds a
version, as in S3 — and a DeleteObject without a VersionId adds a delete marker; both leave
the locked original in place, and `verify` lists every version, so both are named.

To alter, drop or reorder events in place, which Object Lock makes impossible, the tests copy a
chain into a scratch bucket without Object Lock and tamper with the copy there.
"""

from __future__ import annotations

import json
import uuid

import pytest
from botocore.exceptions import ClientError

from custody.audit.ledger import AuditLedger
from custody.audit.review.reader import AuditorReader
from custody.audit.review.verification import verify
from custody.declared import naming
from tests.integration.audit.conftest import Erased


def _kinds(findings: object) -> set[str]:
    return {finding.kind for finding in findings}  # type: ignore[attr-defined]


def _copy_chain(erased: Erased) -> tuple[AuditorReader, list[str]]:
    """The request's chain copied into a bucket without Object Lock; the reader points at it."""
    s3 = erased.stack.clients("s3")
    source = erased.settings.bucket(naming.AUDIT_BUCKET)
    scratch = f"tamper-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=scratch)
    keys = []
    listed = s3.list_objects_v2(Bucket=source, Prefix=f"ledger/{erased.request_id}/")
    for item in listed["Contents"]:
        body = s3.get_object(Bucket=source, Key=item["Key"])["Body"].read()
        s3.put_object(Bucket=scratch, Key=item["Key"], Body=body)
        keys.append(item["Key"])
    reader = erased.reader()
    reader.bucket = scratch
    return reader, sorted(key for key in keys if "/documents/" not in key)


def _read(erased: Erased, reader: AuditorReader, key: str) -> dict[str, object]:
    value: dict[str, object] = json.loads(reader.s3.get_object(Bucket=reader.bucket, Key=key)["Body"].read())
    return value


def test_the_copy_verifies_clean_before_tampering(erased: Erased) -> None:
    reader, _ = _copy_chain(erased)
    assert verify(reader.chain(erased.request_id)).ok


def test_altering_one_event_is_named(erased: Erased) -> None:
    reader, keys = _copy_chain(erased)
    event = _read(erased, reader, keys[3])
    event["counts"] = {"deleted": 999_999, "more": 0}  # a count no run produced
    reader.s3.put_object(Bucket=reader.bucket, Key=keys[3], Body=json.dumps(event).encode())
    findings = verify(reader.chain(erased.request_id)).findings
    assert "altered" in _kinds(findings)
    assert any("event seq 4" in finding.detail for finding in findings), findings


def test_altering_and_rehashing_breaks_the_next_link(erased: Erased) -> None:
    from custody.audit.ledger import AuditEvent

    reader, keys = _copy_chain(erased)
    event = AuditEvent.from_json(_read(erased, reader, keys[2]))
    forged = AuditEvent(**{**event.body(), "counts": {"deleted": 999, "more": 0}}).sealed()
    reader.s3.put_object(Bucket=reader.bucket, Key=keys[2], Body=json.dumps(forged.__dict__).encode())
    findings = verify(reader.chain(erased.request_id)).findings
    assert any(f.kind == "altered" and "seq 4 does not link to seq 3" in f.detail for f in findings), findings


def test_dropping_one_event_is_named(erased: Erased) -> None:
    reader, keys = _copy_chain(erased)
    reader.s3.delete_object(Bucket=reader.bucket, Key=keys[4])
    findings = verify(reader.chain(erased.request_id)).findings
    assert any(f.kind == "gap" and f.detail == "event seq 5 is missing" for f in findings), findings


def test_dropping_the_last_event_is_named_by_the_chain_head(erased: Erased) -> None:
    reader, keys = _copy_chain(erased)
    reader.s3.delete_object(Bucket=reader.bucket, Key=keys[-1])
    findings = verify(reader.chain(erased.request_id)).findings
    assert "head" in _kinds(findings)
    assert "certificate" in _kinds(findings)  # the certify event was the last one


def test_reordering_two_events_is_named(erased: Erased) -> None:
    reader, keys = _copy_chain(erased)
    fifth, sixth = (reader.s3.get_object(Bucket=reader.bucket, Key=key)["Body"].read() for key in keys[4:6])
    reader.s3.put_object(Bucket=reader.bucket, Key=keys[4], Body=sixth)
    reader.s3.put_object(Bucket=reader.bucket, Key=keys[5], Body=fifth)
    findings = verify(reader.chain(erased.request_id)).findings
    assert "reordered" in _kinds(findings)
    assert any("seq 6" in finding.detail for finding in findings if finding.kind == "reordered"), findings


def test_object_lock_refuses_deleting_a_ledger_version(erased: Erased) -> None:
    s3 = erased.stack.clients("s3")
    bucket = erased.settings.bucket(naming.AUDIT_BUCKET)
    version = s3.list_object_versions(Bucket=bucket, Prefix=f"ledger/{erased.request_id}/")["Versions"][0]
    key, version_id = version["Key"], version["VersionId"]
    original = s3.get_object(Bucket=bucket, Key=key, VersionId=version_id)["Body"].read()
    with pytest.raises(ClientError) as refused:
        s3.delete_object(Bucket=bucket, Key=key, VersionId=version_id)
    assert refused.value.response["Error"]["Code"] == "AccessDenied"
    with pytest.raises(ClientError):
        s3.delete_object(Bucket=bucket, Key=key, VersionId=version_id, BypassGovernanceRetention=True)
    batch = s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": key, "VersionId": version_id}]})
    assert [error["Code"] for error in batch["Errors"]] == ["AccessDenied"]
    assert s3.get_object(Bucket=bucket, Key=key, VersionId=version_id)["Body"].read() == original


def test_an_overwrite_or_a_delete_marker_keeps_the_original_and_is_named(erased: Erased) -> None:
    ledger = AuditLedger(erased.settings)
    chain_id = str(uuid.uuid4())
    events = [
        ledger.record(step="verify", target="workflow", outcome="ok", actor="erasure-workflow", chain_id=chain_id)
        for _ in "abc"
    ]
    s3 = erased.stack.clients("s3")
    bucket = erased.settings.bucket(naming.AUDIT_BUCKET)
    forged = {**events[1].__dict__, "outcome": "forged"}
    s3.put_object(Bucket=bucket, Key=events[1].key(), Body=json.dumps(forged).encode(), ChecksumAlgorithm="SHA256")
    s3.delete_object(Bucket=bucket, Key=events[2].key())
    versions = s3.list_object_versions(Bucket=bucket, Prefix=events[1].key())["Versions"]
    assert len(versions) == 2  # the locked original is still there, beside the new version
    findings = verify(erased.reader().chain(chain_id, with_history=False)).findings
    assert {"extra_version", "altered", "deleted"} <= _kinds(findings), findings
    assert any(events[1].key() in finding.detail for finding in findings if finding.kind == "extra_version")


NOT_EVENTS = {
    "an object that is no event": lambda event: {"x": 1},
    "an array": lambda event: [event],
    "a missing field": lambda event: {name: value for name, value in event.items() if name != "prev_hash"},
    "seq as text": lambda event: {**event, "seq": str(event["seq"])},
    "seq as a boolean": lambda event: {**event, "seq": True},
    "a count as text": lambda event: {**event, "counts": {"deleted": "1"}},
    "counts as a list": lambda event: {**event, "counts": [1]},
    "the subject as a number": lambda event: {**event, "subject_id": 7},
}


@pytest.mark.parametrize("kind", sorted(NOT_EVENTS))
def test_a_latest_version_that_is_no_event_is_named_not_a_crash(erased: Erased, kind: str) -> None:
    """JSON in the place of an event is named as altered; it never stops verification (a crash in
    `verify --all` left every other chain unreported: found by a fresh break)."""
    reader, keys = _copy_chain(erased)
    replaced = NOT_EVENTS[kind](_read(erased, reader, keys[2]))
    reader.s3.put_object(Bucket=reader.bucket, Key=keys[2], Body=json.dumps(replaced).encode())
    findings = verify(reader.chain(erased.request_id)).findings
    assert any(finding.kind == "altered" and keys[2] in finding.detail for finding in findings), findings
