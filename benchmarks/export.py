"""Export cost, time and memory: one customer's archive at growing sizes, beside the floor of moving the same bytes.

The local AWS runs as a moto server in this process; each export runs in a child process
(`python -m benchmarks.export <subject> <export id>`) so that its peak memory (tracemalloc, and the
process's maximum resident set) is the exporter's own, not moto's copy of the archive. The floor,
measured in the same child right after, is bare boto3 doing the least that moving the data needs:
one Query pass over each of the customer's partitions, one GetObject per document, and a multipart
upload of as many bytes as the archive. Ratios compare figures of this run only.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import time
import tracemalloc
import uuid
from collections import Counter
from typing import Any

from benchmarks import cost
from benchmarks.harness import observing_every_call
from custody.crypto.keyring import get_keyring
from custody.declared import clock, datamap
from custody.declared.settings import Settings, get_settings
from custody.platform import aws
from custody.platform.aws import clients
from custody.stores import dynamo
from custody.stores.exports import PART_BYTES
from custody.stores.subjects import SubjectRegistry
from devstack.seed import seed_customer

# (interactions of ~6 KB of CJK text once sealed, documents of 1 MiB): about 2, 17 and 66 MB held.
SIZES = ((200, 1), (1_500, 8), (6_000, 30))
DOCUMENT_BYTES = 1024 * 1024
REGION = "us-east-1"
LAMBDA_GB = 1.0  # the exporter's memory (catalog)


def _queue_job(settings: Settings, subject_id: str) -> str:
    registry = SubjectRegistry(settings)
    subject = registry.load(subject_id)
    export_id = str(uuid.uuid4())
    now = clock.now_iso()
    job = {"status": "queued", "created_at": now, "updated_at": now, "deadline": "9999", "expires_at": "9999"}
    dynamo.transact([registry.start_export(subject, {export_id: job})])
    return export_id


def _child(subject_id: str, export_id: str) -> dict[str, Any]:
    """The exporter's run and the floor's, in this (child) process."""
    from custody.customers.export_archive import ExportJob

    calls: Counter[str] = Counter()
    with observing_every_call(lambda name, _params, _seconds: calls.update([name])):
        tracemalloc.start()
        started = time.perf_counter()
        status = ExportJob(get_settings()).run(subject_id, export_id, 900_000)
        seconds = time.perf_counter() - started
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    job = SubjectRegistry(get_settings()).load(subject_id).exports[export_id]
    floor_calls: Counter[str] = Counter()
    with observing_every_call(lambda name, _params, _seconds: floor_calls.update([name])):
        started = time.perf_counter()
        _floor(get_settings(), subject_id, int(job["size_bytes"]))
        floor_seconds = time.perf_counter() - started
    return {
        "status": status.value if status else None,
        "seconds": seconds,
        "peak_bytes": peak,
        "max_rss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
        "archive_bytes": int(job["size_bytes"]),
        "calls": dict(calls),
        "floor_seconds": floor_seconds,
        "floor_calls": dict(floor_calls),
    }


def _floor(settings: Settings, subject_id: str, archive_bytes: int) -> None:
    for store in datamap.table_stores():
        if store.classification is datamap.Classification.PERSONAL:
            for _ in dynamo.query_partition(settings.table(store.name), store.partition_key, subject_id):
                pass
    bucket = settings.bucket("documents")
    for page in clients.s3().get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=f"subjects/{subject_id}/"):
        for item in page.get("Contents", []):
            clients.s3().get_object(Bucket=bucket, Key=item["Key"])["Body"].read()
    exports, key = settings.bucket("exports"), f"subjects/{subject_id}/floor.bin"
    upload = clients.s3().create_multipart_upload(Bucket=exports, Key=key)["UploadId"]
    part, sent = PART_BYTES, 0
    parts: list[Any] = []
    while sent < archive_bytes or not parts:
        size = min(part, archive_bytes - sent)
        etag = clients.s3().upload_part(
            Bucket=exports, Key=key, UploadId=upload, PartNumber=len(parts) + 1, Body=b"\0" * size
        )["ETag"]
        parts.append({"ETag": etag, "PartNumber": len(parts) + 1})
        sent += size
    clients.s3().complete_multipart_upload(Bucket=exports, Key=key, UploadId=upload, MultipartUpload={"Parts": parts})


def run() -> dict[str, Any]:
    from devstack.provision import client_factory, provision
    from devstack.server import EmbeddedAws

    embedded = EmbeddedAws(port=0)
    endpoint = embedded.start()
    resources = provision(client_factory(REGION, endpoint))
    environment = {**os.environ, **resources.environment, "AWS_ENDPOINT_URL": endpoint}
    os.environ.update(environment)
    get_settings.cache_clear()
    get_keyring.cache_clear()
    aws.reset_clients()
    settings = get_settings()
    rows = []
    for interactions, documents in SIZES:
        subject_id = str(uuid.uuid4())
        plain = seed_customer(
            settings, subject_id, interactions=interactions, documents=documents, document_bytes=DOCUMENT_BYTES
        ).plaintext_bytes
        export_id = _queue_job(settings, subject_id)
        child = subprocess.run(  # noqa: S603 - this interpreter, this module
            [sys.executable, "-m", "benchmarks.export", subject_id, export_id],
            env=environment,
            capture_output=True,
            text=True,
            check=True,
            timeout=900,
        )
        measured = json.loads(child.stdout.strip().splitlines()[-1])
        megabytes = plain / 1e6
        calls, floor_calls = sum(measured["calls"].values()), sum(measured["floor_calls"].values())
        usd = cost.export_cost(measured["calls"], measured["seconds"], LAMBDA_GB)
        rows.append(
            {
                "interactions": interactions,
                "documents": documents,
                "held_mb": round(megabytes, 1),
                "archive_mb": round(measured["archive_bytes"] / 1e6, 1),
                "status": measured["status"],
                "calls": calls,
                "floor_calls": floor_calls,
                "calls_over_floor": round(calls / floor_calls, 2),
                "seconds": round(measured["seconds"], 2),
                "floor_seconds": round(measured["floor_seconds"], 2),
                "seconds_over_floor": round(measured["seconds"] / measured["floor_seconds"], 2),
                "seconds_per_mb": round(measured["seconds"] / megabytes, 3),
                "peak_mb": round(measured["peak_bytes"] / 2**20, 1),
                "max_rss_mb": round(measured["max_rss_kb"] / 1024, 1),
                "usd_per_gb": round(usd / megabytes * 1000, 4),
            }
        )
    largest = rows[-1]
    figures = {
        "export.held_mb_largest": largest["held_mb"],
        "export.seconds_per_mb": largest["seconds_per_mb"],
        "export.seconds_over_floor": largest["seconds_over_floor"],
        "export.calls_over_floor": largest["calls_over_floor"],
        "export.peak_mb_smallest": rows[0]["peak_mb"],
        "export.peak_mb_largest": largest["peak_mb"],
        "export.usd_per_gb": largest["usd_per_gb"],
    }
    return {"rows": rows, "figures": figures}


if __name__ == "__main__":
    print(json.dumps(_child(sys.argv[1], sys.argv[2])))
