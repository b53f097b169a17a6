"""The `documents` bucket: a customer's uploads, encrypted with their key before they reach S3.

Object: `subjects/<subject_id>/documents/<document id>`, the ciphertext as body and the sealed
file name, type and upload time in the metadata key `custody-meta`. Versioned; erasure deletes every
version and delete marker under the customer's prefix (`stores.partitions.BucketPrefix`).
"""

from __future__ import annotations

from typing import Any, Final

from botocore.exceptions import ClientError

from custody.declared import datamap
from custody.declared.settings import Settings
from custody.platform.aws import clients

BUCKET: Final = "documents"
META: Final = "custody-meta"


class DocumentsBucket:
    """The `documents` bucket of `settings`: customers' uploads, sealed before they are put.

    S3 errors pass through as botocore's `ClientError`, except that `get` answers None for a missing
    document.
    """

    def __init__(self, settings: Settings) -> None:
        self.bucket = settings.bucket(BUCKET)

    @staticmethod
    def key(subject_id: str, document_id: str) -> str:
        """The object key of a document: `subjects/<subject_id>/documents/<document_id>`."""
        return f"{datamap.BucketStore.prefix(subject_id)}documents/{document_id}"

    def put(self, subject_id: str, document_id: str, body: bytes, sealed_meta: str) -> None:
        """Put a sealed document: `body` the ciphertext, `sealed_meta` its sealed file name, type and time.

        The sealed metadata goes to the object's user metadata `custody-meta`.
        """
        clients.s3().put_object(
            Bucket=self.bucket,
            Key=self.key(subject_id, document_id),
            Body=body,
            ContentType="application/octet-stream",
            Metadata={META: sealed_meta},
        )

    def listing(self, subject_id: str) -> list[dict[str, Any]]:
        """`{document_id, stored_bytes, last_modified}` of the customer's documents: one listing per 1,000."""
        prefix = datamap.BucketStore.prefix(subject_id) + "documents/"
        found = []
        for page in clients.s3().get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix):
            for item in page.get("Contents", []):
                found.append(
                    {
                        "document_id": item["Key"].rsplit("/", 1)[-1],
                        "stored_bytes": item["Size"],
                        "last_modified": item["LastModified"],
                    }
                )
        return found

    def get(self, subject_id: str, document_id: str) -> tuple[bytes, str] | None:
        """(ciphertext, sealed metadata), or None when there is no such document.

        S3 answers a GetObject of a missing key with 403 AccessDenied, not 404, unless the caller
        may s3:ListBucket the bucket — and a function may list only under the customers'
        prefixes, which S3 does not count for a GetObject. So an AccessDenied is a missing
        document when a listing of the exact key finds nothing; otherwise it is a real refusal
        and is raised.
        """
        object_key = self.key(subject_id, document_id)
        try:
            response = clients.s3().get_object(Bucket=self.bucket, Key=object_key)
        except ClientError as error:
            code = error.response.get("Error", {}).get("Code")
            if code in ("NoSuchKey", "404") or (code == "AccessDenied" and not self._listed(object_key)):
                return None
            raise
        return response["Body"].read(), str(response["Metadata"][META])

    def _listed(self, object_key: str) -> bool:
        listed = clients.s3().list_objects_v2(Bucket=self.bucket, Prefix=object_key, MaxKeys=1)
        return any(item["Key"] == object_key for item in listed.get("Contents", []))
