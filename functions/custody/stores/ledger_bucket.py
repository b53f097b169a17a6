"""The audit bucket, where the ledger's events and the documents they attest are written once.

Objects are JSON, put with a SHA-256 checksum; the bucket's Object Lock (COMPLIANCE) refuses any
overwrite or delete before its retention ends. Writers may only put: they cannot read back.
"""

from __future__ import annotations

from typing import Final

from custody.declared import naming
from custody.declared.settings import Settings
from custody.platform.aws import clients

BUCKET: Final = naming.AUDIT_BUCKET


class LedgerBucket:
    """The audit bucket of `settings` (Object Lock, COMPLIANCE mode): put-only for the functions."""

    def __init__(self, settings: Settings) -> None:
        self.bucket = settings.bucket(BUCKET)

    def put(self, key: str, body: bytes) -> None:
        """Write `body` (JSON bytes) at `key` once; S3 verifies the SHA-256 checksum it is sent.

        Raises botocore's `ClientError` when S3 refuses. A second put at an existing key does not replace
        the locked version: S3 adds a version beside it, which `custody audit` reports (`extra_version`).
        """
        clients.s3().put_object(
            Bucket=self.bucket, Key=key, Body=body, ContentType="application/json", ChecksumAlgorithm="SHA256"
        )
