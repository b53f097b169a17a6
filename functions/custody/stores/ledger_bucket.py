"""The audit bucket, where the ledger's events and the documents they attest are written once.

Objects are JSON, put with a SHA-256 checksum; the bucket's Object Lock (COMPLIANCE) refuses any
overwrite or delete before its retention ends. Writers may only put: they cannot read back.
"""

from __future__ import annotations

from custody.declared import naming
from custody.declared.settings import Settings
from custody.platform.aws import clients


class LedgerBucket:
    def __init__(self, settings: Settings) -> None:
        self.bucket = settings.bucket(naming.AUDIT_BUCKET)

    def put(self, key: str, body: bytes) -> None:
        clients.s3().put_object(
            Bucket=self.bucket, Key=key, Body=body, ContentType="application/json", ChecksumAlgorithm="SHA256"
        )
