"""Customer documents: encrypted with the customer's data key before they reach S3.

Objects live under the customer's own prefix, `subjects/<subject_id>/documents/<document_id>`,
so listing and erasing them costs O(that customer's documents). The file name and content type
travel in the object's metadata, encrypted too; S3 adds SSE-KMS with the data CMK on top.
"""

from __future__ import annotations

import base64
import binascii
import re
import uuid
from dataclasses import dataclass
from typing import Any, Final

from custody.crypto import cipher
from custody.crypto.keyring import SubjectKeyring, get_keyring
from custody.declared import clock, datamap
from custody.declared.clock import now_iso
from custody.declared.errors import ConsentRequired, InvalidInput, NotFound
from custody.declared.settings import Settings
from custody.stores.documents import DocumentsBucket
from custody.stores.subjects import Subject

STORE: Final = "documents"
MAX_BYTES: Final = 4 * 1024 * 1024  # a Lambda payload is 6 MB, and base64 adds a third
CONTENT_TYPES: Final = frozenset({"application/pdf", "image/png", "image/jpeg", "text/plain"})
SAFE_NAME: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9 ._()-]{0,99}")
_DOCUMENT_ID: Final = re.compile(r"[0-9a-f-]{36}")

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
        self.keyring = keyring or get_keyring()

    def upload(self, subject: Subject, file_name: str, content_type: str, content: bytes) -> Document:
        """Seal and store an upload checked by `check_upload`; returns its description with a new document id.

        The content is sealed as a document and the name, type and time as sealed metadata, both bound
        to the document id. Creates the customer's key if there is none. Raises `Forbidden` when the
        account is being erased and `ConsentRequired` without the purpose the `documents` category needs
        (`crm_core`).
        """
        subject.ensure_active()
        missing = datamap.missing_purposes([STORE], subject.purposes)
        if missing:
            raise ConsentRequired(missing)
        document = Document(str(uuid.uuid4()), file_name, content_type, len(content), now_iso())
        key = self.keyring.get_or_create(subject.subject_id)
        meta = cipher.encrypt_json(
            key,
            subject.subject_id,
            STORE,
            f"{document.document_id}.meta",
            {"file_name": file_name, "content_type": content_type, "uploaded_at": document.uploaded_at},
        )
        body = cipher.encrypt_document(key, subject.subject_id, STORE, document.document_id, content)
        self.documents.put(subject.subject_id, document.document_id, body, meta)
        return document

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
        """The document, decrypted for its owner; raises `NotFound` for an id of no document of theirs."""
        if not _DOCUMENT_ID.fullmatch(document_id):
            raise NotFound("No such document.")
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
