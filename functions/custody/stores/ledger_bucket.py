"""The audit bucket, where the ledger's events and the documents they attest are written once.

Objects are JSON, put with a SHA-256 checksum; the bucket's Object Lock (COMPLIANCE) refuses any
overwrite or delete before its retention ends. Writers may only put: they cannot read back. Every put
is a create (`If-None-Match: *`), so putting a key twice — botocore's own retry of a put whose answer
was lost, a step's retry filing the same certificate — leaves one version, not an overwrite attempt.
"""

from __future__ import annotations

from typing import Final

from botocore.exceptions import ClientError

from custody.declared import naming
from custody.declared.settings import Settings
from custody.platform.aws import clients

BUCKET: Final = naming.AUDIT_BUCKET
# S3's answer to `If-None-Match: *` when the key already holds an object (HTTP 412). Source: Amazon S3
# user guide, "How to prevent object overwrites with conditional writes".
ALREADY_THERE: Final = "PreconditionFailed"


class LedgerBucket:
    """The audit bucket of `settings` (Object Lock, COMPLIANCE mode): put-only for the functions."""

    def __init__(self, settings: Settings) -> None:
        self.bucket = settings.bucket(BUCKET)

    def put(self, key: str, body: bytes) -> bool:
        """Create `key` holding `body` (JSON bytes); S3 verifies the SHA-256 checksum it is sent.

        Returns True when this call created it, False when the key already held an object (nothing
        written: keys are named by event id or digest, so it is this body, put by an earlier try).
        Raises botocore's `ClientError` for any other refusal — among them S3's
        `ConditionalRequestConflict` (409) when another put of the key was in flight, which is worth
        retrying — and botocore's transport errors.
        """
        try:
            clients.s3().put_object(
                Bucket=self.bucket,
                Key=key,
                Body=body,
                ContentType="application/json",
                ChecksumAlgorithm="SHA256",
                IfNoneMatch="*",
            )
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") == ALREADY_THERE:
                return False
            raise
        return True
