"""Customer documents: encrypted with the customer's data key before they reach S3.

Objects live under the customer's own prefix, `subjects/<subject_id>/documents/<document_id>`,
so listing and erasing them costs O(that customer's documents). The file name and content type
travel in the object's metadata, encrypted too; S3 adds SSE-KMS with the data CMK on top.

No transaction spans DynamoDB and S3, so an upload is fenced on both sides of its `PutObject`
(docs/architecture.md, "Erasure is final"):

1. **Intent**: one transaction adds `<deadline>#<document id>` to the subject's uploads in flight
   and, for a first write, stores the customer's new key — refused once an erasure started or the
   consent version moved. The deadline is when the invocation ends (Lambda's own limit) plus
   `SETTLE_SECONDS`; no `PutObject` of this upload can land after it.
2. **Put** the sealed object.
3. **Commit**: the entry leaves the set under the same fence. Refused, the upload answers 403 and
   leaves its entry: the erasure that refused it does not pass Verify while a deadline is ahead, and
   Verify's listing after the deadline finds the object if it landed, so another round erases it.
"""

from __future__ import annotations

import base64
import binascii
import re
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Final

from custody.crypto import cipher
from custody.crypto.keyring import SubjectKeyring, get_keyring
from custody.declared import clock, datamap
from custody.declared.clock import now_iso
from custody.declared.errors import ConsentRequired, InvalidInput, NotFound
from custody.declared.settings import Settings
from custody.stores import dynamo
from custody.stores.documents import DocumentsBucket
from custody.stores.subjects import Subject, SubjectRegistry

STORE: Final = "documents"
MAX_BYTES: Final = 4 * 1024 * 1024  # a Lambda payload is 6 MB, and base64 adds a third
CONTENT_TYPES: Final = frozenset({"application/pdf", "image/png", "image/jpeg", "text/plain"})
SAFE_NAME: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9 ._()-]{0,99}")
_DOCUMENT_ID: Final = re.compile(r"[0-9a-f-]{36}")
# After its invocation's end, how long a PutObject whose body had already left could still land.
SETTLE_SECONDS: Final = 60

# Magic numbers of the binary types: the declared content type must match the content.
_SIGNATURES: Final = {
    "application/pdf": (b"%PDF-",),
    "image/png": (b"\x89PNG\r\n\x1a\n",),
    "image/jpeg": (b"\xff\xd8\xff",),
}


@dataclass(frozen=True)
class Document:
    """A stored document's description: its id, file name, content type, size in bytes (plaintext) and upload time."""

    document_id: str
    file_name: str
    content_type: str
    size_bytes: int
    uploaded_at: str


def check_upload(file_name: str, content_type: str, content_base64: str) -> bytes:
    """Decode and check an upload; the reasons name the rule, never the name or content."""
    problems = []
    if not SAFE_NAME.fullmatch(file_name) or ".." in file_name:
        problems.append({"field": "file_name", "reason": "letters, digits, spaces and . _ ( ) - only, at most 100"})
    if content_type not in CONTENT_TYPES:
        problems.append({"field": "content_type", "reason": f"must be one of {sorted(CONTENT_TYPES)}"})
    try:
        content = base64.b64decode(content_base64, validate=True)
    except (binascii.Error, ValueError):
        problems.append({"field": "content_base64", "reason": "must be standard base64"})
        content = b""
    if not problems:
        if not content:
            problems.append({"field": "content_base64", "reason": "the document is empty"})
        elif len(content) > MAX_BYTES:
            problems.append({"field": "content_base64", "reason": f"the document exceeds {MAX_BYTES} bytes"})
        elif not _matches_type(content_type, content):
            problems.append({"field": "content_type", "reason": "does not match the document's content"})
    if problems:
        raise InvalidInput("The document cannot be accepted.", {"fields": problems})
    return content


def _check_allowed(subject: Subject) -> None:
    subject.ensure_active()
    missing = datamap.missing_purposes([STORE], subject.purposes)
    if missing:
        raise ConsentRequired(missing)


def _matches_type(content_type: str, content: bytes) -> bool:
    if content_type == "text/plain":
        try:
            content.decode("utf-8")
        except UnicodeDecodeError:
            return False
        return b"\x00" not in content
    return content.startswith(_SIGNATURES[content_type])


class DocumentStore:
    """Customers' documents under `settings`, sealed with each customer's key.

    `keyring` defaults to the process-wide one. S3 and KMS errors pass through as botocore's
    `ClientError`.
    """

    def __init__(self, settings: Settings, keyring: SubjectKeyring | None = None) -> None:
        self.documents = DocumentsBucket(settings)
        self.subjects = SubjectRegistry(settings)
        self.keyring = keyring or get_keyring()

    def upload(self, subject_id: str, file_name: str, content_type: str, content: bytes, remaining_ms: int) -> Document:
        """Seal and store an upload checked by `check_upload`; returns its description with a new document id.

        `remaining_ms` is how long the invocation may still run (the Lambda context's remaining time):
        it bounds the upload's deadline. The content is sealed as a document and the name, type and time
        as sealed metadata, both bound to the document id; the customer's key is created in the intent's
        transaction if there is none. Raises `Forbidden` once the account's erasure has started (at the
        intent or at the commit) and `ConsentRequired` without the purpose the `documents` category
        needs (`crm_core`).
        """
        document = Document(str(uuid.uuid4()), file_name, content_type, len(content), now_iso())
        deadline = clock.now() + timedelta(milliseconds=max(remaining_ms, 0), seconds=SETTLE_SECONDS)
        entry = f"{clock.iso(deadline)}#{document.document_id}"
        key = self.subjects.guarded(subject_id, lambda subject: self._intend(subject, entry))
        meta = cipher.encrypt_json(
            key,
            subject_id,
            STORE,
            f"{document.document_id}.meta",
            {"file_name": file_name, "content_type": content_type, "uploaded_at": document.uploaded_at},
        )
        body = cipher.encrypt_document(key, subject_id, STORE, document.document_id, content)
        self.documents.put(subject_id, document.document_id, body, meta)
        self.subjects.guarded(subject_id, lambda subject: self._commit(subject, entry))
        return document

    def _intend(self, subject: Subject, entry: str) -> cipher.SubjectKey:
        _check_allowed(subject)
        pending = self.keyring.for_write(subject.subject_id)
        items = [self.subjects.begin_upload(subject, entry)]
        if pending.put is not None:
            items.append(pending.put)
        dynamo.transact(items)
        self.keyring.committed(pending)
        return pending.key

    def _commit(self, subject: Subject, entry: str) -> None:
        _check_allowed(subject)
        dynamo.transact([self.subjects.end_upload(subject, entry)])

    def list(self, subject_id: str) -> list[dict[str, Any]]:
        """Ids, sizes and times of the customer's documents: one listing per 1,000."""
        return [
            {
                "document_id": entry["document_id"],
                "stored_bytes": entry["stored_bytes"],
                "stored_at": clock.iso(entry["last_modified"]),
            }
            for entry in self.documents.listing(subject_id)
        ]

    def download(self, subject_id: str, document_id: str) -> tuple[Document, bytes]:
        """The document, decrypted for its owner.

        Raises `Forbidden` once the account's erasure has started (nothing is read from it then) and
        `NotFound` for an id of no document of theirs.
        """
        if not _DOCUMENT_ID.fullmatch(document_id):
            raise NotFound("No such document.")
        self.subjects.load(subject_id).ensure_active()
        found = self.documents.get(subject_id, document_id)
        if found is None:
            raise NotFound("No such document.")
        body, sealed_meta = found
        key = self.keyring.get(subject_id)
        meta = cipher.decrypt_json(key, subject_id, STORE, f"{document_id}.meta", sealed_meta)
        content = cipher.decrypt_document(key, subject_id, STORE, document_id, body)
        return Document(
            document_id, meta["file_name"], meta["content_type"], len(content), meta["uploaded_at"]
        ), content
