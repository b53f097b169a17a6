"""Synthetic customers of a given size, sealed as the functions seal them: for the size tests and `make bench`.

Writing thousands of items through the API would measure the API; these write straight to the
stores, through the same key handling (`SubjectKeyring.for_write`) and sealing (`custody.crypto`)
the functions use, so what the readers see is exactly what the API would have stored. Every value
is made up.
"""

from __future__ import annotations

import json
import os
import uuid
from dataclasses import dataclass
from typing import Any

from custody.crypto import cipher, sealed
from custody.crypto.keyring import get_keyring
from custody.declared import clock
from custody.declared.settings import Settings
from custody.platform.aws import clients
from custody.stores import dynamo
from custody.stores.documents import DocumentsBucket
from custody.stores.partitions import BATCH_WRITE_MAX

# 2,000 characters, the interaction summary's limit: ~6 KB as UTF-8, ~12 KB once JSON-escaped.
LONG_CJK_SUMMARY = "顧客対応の記録。" * 250
POLICY_VERSION = "2026-11"


@dataclass(frozen=True)
class Seeded:
    """What `seed_customer` wrote: interaction keys, document ids, and the plaintext bytes held."""

    interaction_keys: tuple[str, ...]
    document_ids: tuple[str, ...]
    plaintext_bytes: int


def seed_customer(
    settings: Settings,
    subject_id: str,
    *,
    interactions: int,
    documents: int,
    document_bytes: int = 1024,
    summary: str = LONG_CJK_SUMMARY,
) -> Seeded:
    """An active customer (crm_core granted) with sealed interactions and documents (random PDF-typed bytes)."""
    keyring = get_keyring()
    pending = keyring.for_write(subject_id)
    if pending.put is not None:
        dynamo.transact([pending.put])
    keyring.committed(pending)
    now = clock.now_iso()
    clients.dynamodb().update_item(
        TableName=settings.table("subjects"),
        Key=dynamo.to_item({"subject_id": subject_id}),
        UpdateExpression="SET #status = :active, created_at = if_not_exists(created_at, :now), "
        "granted = if_not_exists(granted, :granted)",
        ExpressionAttributeNames={"#status": "status"},
        ExpressionAttributeValues=dynamo.to_values(
            {":active": "active", ":now": now, ":granted": {"crm_core": POLICY_VERSION}}
        ),
    )
    plain, keys, ids = 0, [], []
    table = settings.table("interactions")
    for start in range(0, interactions, BATCH_WRITE_MAX):
        batch: list[Any] = []
        for index in range(start, min(start + BATCH_WRITE_MAX, interactions)):
            key = f"{now}#{uuid.UUID(int=index + 1)}"
            values = {"kind": "ticket", "summary": summary, "reference": f"T-{index}"}
            plain += len(json.dumps(values, ensure_ascii=False).encode())
            item = {
                "subject_id": subject_id,
                "interaction_key": key,
                "created_at": now,
                sealed.FIELDS: sealed.seal(pending.key, "interactions", key, values),
            }
            batch.append({"PutRequest": {"Item": dynamo.to_item(item)}})
            keys.append(key)
        clients.dynamodb().batch_write_item(RequestItems={table: batch})
    bucket = DocumentsBucket(settings)
    for index in range(documents):
        document_id = str(uuid.uuid4())
        content = b"%PDF-1.7\n" + os.urandom(max(document_bytes - 9, 0))
        meta: dict[str, Any] = {"file_name": f"scan-{index}.pdf", "content_type": "application/pdf", "uploaded_at": now}
        bucket.put(
            subject_id,
            document_id,
            cipher.encrypt_document(pending.key, subject_id, "documents", document_id, content),
            cipher.encrypt_json(pending.key, subject_id, "documents", f"{document_id}.meta", meta),
        )
        plain += len(content)
        ids.append(document_id)
    return Seeded(tuple(keys), tuple(ids), plain)
