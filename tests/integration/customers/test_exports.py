"""Portable exports: requested by the customer, written by the exporter, downloaded through a presigned URL.

The exporter runs as Lambda would run it after `subject_access`'s asynchronous `Invoke`: the
`exporter_invocations` fixture keeps each `InvocationType=Event` call (checking its function and
payload) and `run_exports` hands them to the exporter's handler under its own role.
"""

from __future__ import annotations

import hashlib
import io
import json
import subprocess
import sys
import uuid
import zipfile
from dataclasses import dataclass, field
from typing import Any

import pytest
import requests
from botocore.exceptions import ClientError

from custody.crypto import sealed
from custody.crypto.keyring import get_keyring
from custody.customers import export_archive
from custody.declared import clock, datamap
from custody.declared.settings import get_settings
from custody.platform import aws
from custody.stores import dynamo
from custody.stores.interactions import InteractionsTable
from custody.stores.partitions import BucketPrefix
from custody.stores.subjects import SubjectRegistry
from devstack.iam.enforce import acting_as
from devstack.paths import REPO_ROOT
from devstack.runtime import LocalLambdaContext
from devstack.seed import LONG_CJK_SUMMARY, seed_customer
from tests.integration.customers.conftest import Customer, call, grant, handler_of
from tests.integration.customers.test_documents import PDF, _upload
from tests.integration.customers.test_profile import SAMPLES

ANN_MARK = "Zyzzogeta"
BOB_MARK = "Qwfpluxeva"


@dataclass
class Invocations:
    """The exporter's asynchronous invocations, in the order `subject_access` made them."""

    events: list[dict[str, Any]] = field(default_factory=list)

    def invoke(self, **request: Any) -> dict[str, Any]:
        assert request["FunctionName"] == get_settings().exporter_function_name
        assert request["InvocationType"] == "Event"
        self.events.append(json.loads(request["Payload"]))
        return {"StatusCode": 202}


@pytest.fixture
def exporter_invocations(monkeypatch: pytest.MonkeyPatch) -> Invocations:
    invocations = Invocations()
    monkeypatch.setattr(aws.clients, "lambda_", lambda: invocations)
    return invocations


def run_exports(invocations: Invocations) -> list[dict[str, Any]]:
    """Run every queued exporter invocation, as Lambda would, under the exporter's role."""
    results = []
    while invocations.events:
        event = invocations.events.pop(0)
        assert set(event) == {"subject_id", "export_id"}  # ids only
        with acting_as("exporter"):
            results.append(handler_of("exporter")(event, LocalLambdaContext.for_call("exporter", 900.0)))
    return results


def _customer_with_data(customer: Customer, mark: str) -> None:
    grant(customer, *datamap.PURPOSES)
    profile = {**SAMPLES, "identity": {"legal_name": f"{mark} Lee", "birth_date": "1990-02-03"}}
    assert call("collect", "PUT", "/v1/me/profile", customer, profile).status == 200
    assert _upload(customer, "letter.pdf", "application/pdf", PDF).status == 201
    assert _upload(customer, "note.txt", "text/plain", f"=cmd|' note of {mark}".encode()).status == 201


def _export(customer: Customer, invocations: Invocations) -> dict[str, Any]:
    started = call("subject_access", "POST", "/v1/me/exports", customer)
    assert started.status == 202, started.raw
    assert started.body["status"] == "queued"
    run_exports(invocations)
    ready = call("subject_access", "GET", started.body["status_url"], customer)
    assert ready.status == 200, ready.raw
    return dict(ready.body)


def test_an_export_holds_every_store_with_digests_and_nothing_of_another_customer(
    new_customer: Any, exporter_invocations: Invocations
) -> None:
    ann, bob = new_customer(), new_customer()
    _customer_with_data(ann, ANN_MARK)
    _customer_with_data(bob, BOB_MARK)
    view = _export(ann, exporter_invocations)
    assert view["status"] == "ready"
    assert view["download"]["url"].startswith("http")
    response = requests.get(view["download"]["url"], timeout=30)
    assert response.status_code == 200
    archive = zipfile.ZipFile(io.BytesIO(response.content))
    assert view["size_bytes"] == len(response.content)
    manifest_bytes = archive.read("manifest.json")
    assert hashlib.sha256(manifest_bytes).hexdigest() == view["manifest_sha256"]
    manifest = json.loads(manifest_bytes)
    names = set(archive.namelist())
    assert names == {entry["path"] for entry in manifest["files"]} | {"manifest.json"}
    for entry in manifest["files"]:
        content = archive.read(entry["path"])
        assert (len(content), hashlib.sha256(content).hexdigest()) == (entry["bytes"], entry["sha256"])
    # Every personal store of the data map is accounted for, with what it holds.
    personal = [store for store in datamap.STORES if store.classification is datamap.Classification.PERSONAL]
    assert set(manifest["counts"]) == {store.name for store in personal}
    settings = get_settings()
    for store in personal:
        if isinstance(store, datamap.TableStore):
            held = len(list(dynamo.query_partition(settings.table(store.name), "subject_id", ann.subject_id)))
            assert manifest["counts"][store.name] == held, store.name
            assert {f"data/{store.name}.json", f"data/{store.name}.csv"} <= names
            assert len(json.loads(archive.read(f"data/{store.name}.json"))) == held
    held_documents = list(BucketPrefix(settings, datamap.store("documents")).objects(ann.subject_id))  # type: ignore[arg-type]
    assert manifest["counts"]["documents"] == len(held_documents) == 2
    documents = json.loads(archive.read("data/documents.json"))
    by_name = {item["file_name"]: archive.read(item["path"]) for item in documents}
    assert by_name["letter.pdf"] == PDF
    assert by_name["note.txt"] == f"=cmd|' note of {ANN_MARK}".encode()
    everything = b"".join(archive.read(name) for name in names)
    assert ANN_MARK.encode() in archive.read("data/profiles.json")
    assert ANN_MARK.encode() in archive.read("index.html")
    assert BOB_MARK.encode() not in everything
    assert bob.subject_id.encode() not in everything
    assert b"4111111111111111" not in everything  # the card is shown as brand and last four, as in the report
    profiles = {item["category"]: item for item in json.loads(archive.read("data/profiles.json"))}
    assert profiles["payment"]["card"]["last4"] == "1111"


def test_the_summary_escapes_values_and_csv_cells_cannot_run_as_formulas(
    customer: Customer, exporter_invocations: Invocations
) -> None:
    grant(customer, "crm_core")
    hostile = "<script>alert(1)</script>"
    assert call("collect", "PUT", "/v1/me/profile", customer, {"identity": {"legal_name": "Ann Lee"}}).status == 200
    assert _upload(customer, "note.txt", "text/plain", b"hello").status == 201
    subject = SubjectRegistry(get_settings()).load(customer.subject_id)
    summary = export_archive._Summary(profile={"identity": {"legal_name": hostile}})
    page = export_archive.render_summary(subject, summary, {"export_id": "x", "generated_at": "t", "files": []})
    assert hostile not in page
    assert "&lt;script&gt;" in page
    assert "<script" not in page
    assert export_archive._cell("=1+1") == "'=1+1"
    assert export_archive._cell("+84 912") == "'+84 912"
    assert export_archive._cell("Ann") == "Ann"


def test_one_export_runs_at_a_time_and_the_daily_limit_answers_429_writing_nothing(
    customer: Customer, exporter_invocations: Invocations
) -> None:
    grant(customer, "crm_core")
    first = call("subject_access", "POST", "/v1/me/exports", customer)
    again = call("subject_access", "POST", "/v1/me/exports", customer)
    assert (first.status, again.status) == (202, 202)
    assert again.body["export_id"] == first.body["export_id"]
    assert len(exporter_invocations.events) == 1
    run_exports(exporter_invocations)
    limit = get_settings().export_daily_limit
    for _ in range(limit - 1):
        assert call("subject_access", "POST", "/v1/me/exports", customer).status == 202
        run_exports(exporter_invocations)
    before = SubjectRegistry(get_settings()).record(customer.subject_id)
    refused = call("subject_access", "POST", "/v1/me/exports", customer)
    assert refused.status == 429
    assert refused.body["error"] == "too_many_requests"
    assert 0 < int(refused.headers["Retry-After"]) <= 24 * 3600 + 1
    assert refused.body["details"]["limit"] == limit
    assert SubjectRegistry(get_settings()).record(customer.subject_id) == before
    assert exporter_invocations.events == []
    listed = call("subject_access", "GET", "/v1/me/exports", customer).body["exports"]
    assert [item["status"] for item in listed] == ["ready"] * limit
    assert all(item["download"] is None for item in listed)


def test_a_replay_with_the_same_idempotency_key_starts_nothing_more(
    customer: Customer, exporter_invocations: Invocations
) -> None:
    grant(customer, "crm_core")
    headers = {"Idempotency-Key": "export-" + uuid.uuid4().hex[:12]}
    first = call("subject_access", "POST", "/v1/me/exports", customer, headers=headers)
    run_exports(exporter_invocations)
    replay = call("subject_access", "POST", "/v1/me/exports", customer, headers=headers)
    assert replay.status == 202
    assert replay.body["export_id"] == first.body["export_id"]
    assert exporter_invocations.events == []


def test_an_unknown_or_foreign_export_is_404_and_a_ready_one_is_superseded_when_consents_move(
    new_customer: Any, exporter_invocations: Invocations
) -> None:
    ann, bob = new_customer(), new_customer()
    grant(ann, "crm_core")
    grant(bob, "crm_core")
    view = _export(ann, exporter_invocations)
    for path in (f"/v1/me/exports/{uuid.uuid4()}", "/v1/me/exports/not-an-id", view["status_url"]):
        reply = call("subject_access", "GET", path, bob)
        assert reply.status == 404, path
        assert reply.body["error"] == "not_found"
    grant(ann, "marketing")
    moved = call("subject_access", "GET", view["status_url"], ann).body
    assert moved["status"] == "superseded"
    assert moved["download"] is None


def test_a_job_whose_consents_moved_while_it_ran_fails_and_a_killed_one_reports_failed(
    customer: Customer, exporter_invocations: Invocations, monkeypatch: pytest.MonkeyPatch
) -> None:
    grant(customer, "crm_core")
    started = call("subject_access", "POST", "/v1/me/exports", customer).body
    original = export_archive.ArchiveWriter.write

    def write_while_the_customer_grants(self: Any, upload: Any) -> str:
        grant(customer, "marketing")
        return original(self, upload)

    monkeypatch.setattr(export_archive.ArchiveWriter, "write", write_while_the_customer_grants)
    [result] = run_exports(exporter_invocations)
    assert result["status"] == "failed"
    view = call("subject_access", "GET", started["status_url"], customer).body
    assert (view["status"], view["failure"], view["download"]) == ("failed", "consents_changed", None)
    record = SubjectRegistry(get_settings()).load(customer.subject_id)
    assert not record.uploads_in_flight
    monkeypatch.setattr(export_archive.ArchiveWriter, "write", original)
    killed = call("subject_access", "POST", "/v1/me/exports", customer).body
    exporter_invocations.events.clear()  # the invocation never ran (or Lambda ended it)
    registry = SubjectRegistry(get_settings())
    past = clock.iso(clock.now().replace(year=2000))
    dynamo.transact(
        [
            {
                "Update": {
                    "TableName": registry.table,
                    "Key": dynamo.to_item({"subject_id": customer.subject_id}),
                    "UpdateExpression": "SET exports.#e.deadline = :past",
                    "ExpressionAttributeNames": {"#e": killed["export_id"]},
                    "ExpressionAttributeValues": dynamo.to_values({":past": past}),
                }
            }
        ]
    )
    timed_out = call("subject_access", "GET", killed["status_url"], customer).body
    assert (timed_out["status"], timed_out["failure"]) == ("failed", "timed_out")
    assert call("subject_access", "POST", "/v1/me/exports", customer).status == 202  # failed ones are not counted


def test_a_duplicate_delivery_writes_nothing_more_and_a_withdrawal_stops_a_queued_job(
    customer: Customer, exporter_invocations: Invocations
) -> None:
    grant(customer, "crm_core")
    call("subject_access", "POST", "/v1/me/exports", customer)
    [event] = list(exporter_invocations.events)
    run_exports(exporter_invocations)
    exporter_invocations.events.append(event)
    assert run_exports(exporter_invocations) == [{"export_id": event["export_id"], "status": "skipped"}]
    settings = get_settings()
    exports = BucketPrefix(settings, datamap.store("exports"))  # type: ignore[arg-type]
    versions, _ = exports.versions(customer.subject_id)
    assert len(versions) == 1
    grant(customer, "marketing")
    call("subject_access", "POST", "/v1/me/exports", customer)  # superseded: a new one may start
    assert call("erase", "POST", "/v1/me/withdrawal", customer).status == 202
    assert run_exports(exporter_invocations)[0]["status"] == "skipped"
    versions, _ = exports.versions(customer.subject_id)
    assert len(versions) == 1
    assert exports.unfinished_uploads(customer.subject_id) == []
    refused = call("subject_access", "POST", "/v1/me/exports", customer)
    assert refused.status == 403


def test_interactions_exported_from_sealed_items_match_what_staff_recorded(
    customer: Customer, exporter_invocations: Invocations
) -> None:
    grant(customer, "crm_core")
    keyring = get_keyring()
    settings = get_settings()
    pending = keyring.for_write(customer.subject_id)
    if pending.put is not None:
        dynamo.transact([pending.put])
    keyring.committed(pending)
    summaries = [f"đơn hàng {index} — 注文 {index}" for index in range(30)]
    table = InteractionsTable(settings)
    for index, summary in enumerate(summaries):
        key = f"2026-01-01T00:00:{index:02d}.000Z#{uuid.uuid4()}"
        values = {"kind": "order", "summary": summary, "reference": f"R-{index}"}
        item = {
            "subject_id": customer.subject_id,
            "interaction_key": key,
            "created_at": key.split("#")[0],
            sealed.FIELDS: sealed.seal(pending.key, "interactions", key, values),
        }
        dynamo.transact([table.add(item)])
    view = _export(customer, exporter_invocations)
    archive = zipfile.ZipFile(io.BytesIO(requests.get(view["download"]["url"], timeout=30).content))
    exported = json.loads(archive.read("data/interactions.json"))
    assert [item["summary"] for item in exported] == summaries
    rows = archive.read("data/interactions.csv").decode().splitlines()
    assert rows[0].split(",")[:4] == ["interaction_key", "kind", "summary", "reference"]
    assert len(rows) == 31
    assert view["counts"]["interactions"] == 30


def test_a_customer_holding_more_than_6_mb_exports_every_item_and_document(
    customer: Customer, exporter_invocations: Invocations
) -> None:
    seeded = seed_customer(get_settings(), customer.subject_id, interactions=3_000, documents=50, document_bytes=20_000)
    assert seeded.plaintext_bytes > 6 * 1024 * 1024
    view = _export(customer, exporter_invocations)
    assert view["status"] == "ready", view
    archive = zipfile.ZipFile(io.BytesIO(requests.get(view["download"]["url"], timeout=60).content))
    manifest = json.loads(archive.read("manifest.json"))
    assert manifest["counts"]["interactions"] == 3_000
    assert manifest["counts"]["documents"] == 50
    exported = json.loads(archive.read("data/interactions.json"))
    assert sorted(item["interaction_key"] for item in exported) == sorted(seeded.interaction_keys)
    assert {item["summary"] for item in exported} == {LONG_CJK_SUMMARY}
    documents = json.loads(archive.read("data/documents.json"))
    assert sorted(item["document_id"] for item in documents) == sorted(seeded.document_ids)
    assert all(len(archive.read(item["path"])) == 20_000 for item in documents)
    paths = {entry["path"]: entry for entry in manifest["files"]}
    assert paths["data/interactions.json"]["items"] == paths["data/interactions.csv"]["items"] == 3_000


def test_the_exporter_memory_stays_bounded_as_the_customer_grows() -> None:
    """The exporter's peak (tracemalloc, in a process of its own) stays under a ceiling the data far exceeds.

    The ceiling is what the job holds at once: one 8 MiB part, a 2 MiB CSV spool, one document
    (ciphertext and plaintext) and the process's own working set; it does not grow with the customer.
    """
    script = (
        "import json; from benchmarks import export; export.SIZES = ((100, 2), (600, 50)); "
        "print(json.dumps(export.run()['rows']))"
    )
    done = subprocess.run(  # noqa: S603 - this interpreter, our own module
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=600, cwd=REPO_ROOT
    )
    small, large = json.loads(done.stdout.strip().splitlines()[-1])
    assert small["status"] == large["status"] == "ready"
    assert large["held_mb"] > 50
    assert large["peak_mb"] < 40, (small, large)
    assert large["peak_mb"] - small["peak_mb"] < large["held_mb"] / 4, (small, large)


def test_an_export_lambda_would_not_start_fails_at_once_and_holds_nothing_back(
    customer: Customer, monkeypatch: pytest.MonkeyPatch
) -> None:
    grant(customer, "crm_core")

    class Throttled:
        def invoke(self, **_: Any) -> None:
            raise ClientError({"Error": {"Code": "TooManyRequestsException", "Message": "Rate exceeded"}}, "Invoke")

    monkeypatch.setattr(aws.clients, "lambda_", Throttled)
    refused = call("subject_access", "POST", "/v1/me/exports", customer)
    assert refused.status == 503, refused.raw
    assert refused.body["error"] == "service_busy"
    [job] = SubjectRegistry(get_settings()).load(customer.subject_id).exports.values()
    assert (job["status"], job["failure"]) == ("failed", "not_started")
    monkeypatch.setattr(aws.clients, "lambda_", Invocations)
    assert call("subject_access", "POST", "/v1/me/exports", customer).status == 202


def test_superseded_exports_do_not_count_against_the_daily_limit(
    customer: Customer, exporter_invocations: Invocations
) -> None:
    grant(customer, "crm_core")
    for _ in range(get_settings().export_daily_limit):
        _export(customer, exporter_invocations)
    assert call("subject_access", "POST", "/v1/me/exports", customer).status == 429
    grant(customer, "marketing")  # every ready export is superseded: none serves any more
    assert _export(customer, exporter_invocations)["status"] == "ready"


def test_document_names_in_the_archive_unzip_on_every_common_file_system() -> None:
    assert export_archive.portable_name("CON") == "_CON"
    assert export_archive.portable_name("lpt1.txt") == "_lpt1.txt"
    assert export_archive.portable_name("note.txt ") == "note.txt"
    assert export_archive.portable_name("note.") == "note"
    assert export_archive.portable_name("letter.pdf") == "letter.pdf"
    assert export_archive.portable_name("...") == "document"
