"""The `exports` bucket: customers' portable export archives, streamed in as multipart uploads.

Object: `subjects/<subject_id>/exports/<export id>.zip`, SSE-KMS under the data CMK (the bucket's
default; docs/architecture.md, "The portable export", says why not the subject's key). A lifecycle
rule expires it after `datamap.EXPORT_RETENTION_DAYS`; erasure deletes every version and every
unfinished multipart upload under the customer's prefix (`stores.partitions.BucketPrefix`).

`ArchiveUpload` is a write-only binary stream: what is written is buffered up to one part and sent
as `UploadPart`, so memory stays at one part however large the archive. S3's rules (Amazon S3 user
guide, "Amazon S3 multipart upload limits"): every part but the last is 5 MiB to 5 GiB, at most
10,000 parts; `PART_BYTES` of 8 MiB allows archives up to 78 GiB, and is sent as buffered (no copy).
"""

from __future__ import annotations

import hashlib
import io
from typing import TYPE_CHECKING, Any, Final, cast

from custody.declared import datamap
from custody.declared.settings import Settings
from custody.platform.aws import clients

if TYPE_CHECKING:
    from mypy_boto3_s3.type_defs import CompletedPartTypeDef

BUCKET: Final = "exports"
PART_BYTES: Final = 8 * 1024 * 1024
MAX_PARTS: Final = 10_000
CONTENT_TYPE: Final = "application/zip"


class ArchiveTooLarge(Exception):
    """The archive would need more than S3's 10,000 parts."""


class ExportsBucket:
    """The `exports` bucket of `settings`. S3 errors pass through as botocore's `ClientError`."""

    def __init__(self, settings: Settings) -> None:
        self.bucket = settings.bucket(BUCKET)

    @staticmethod
    def key(subject_id: str, export_id: str) -> str:
        """The object key of an export: `subjects/<subject_id>/exports/<export_id>.zip`."""
        return f"{datamap.BucketStore.prefix(subject_id)}exports/{export_id}.zip"

    def upload(self, subject_id: str, export_id: str) -> ArchiveUpload:
        """A new multipart upload of the export's archive (`CreateMultipartUpload`)."""
        return ArchiveUpload(self.bucket, self.key(subject_id, export_id))

    def download_url(self, subject_id: str, export_id: str, file_name: str, seconds: int) -> str:
        """A presigned `GetObject` URL of the export's archive, valid `seconds`, that saves as `file_name`.

        An export's key is written once (its id is in it), so the current version is the archive; no
        `VersionId` is named, which would need `s3:GetObjectVersion` as well.

        Signed with the caller's role: the URL works while both it and the role's session are valid
        (AWS: a presigned URL expires when the credentials that signed it do), and only for a caller
        whose role may read the object and decrypt with the bucket's key.
        """
        url: str = clients.s3().generate_presigned_url(
            "get_object",
            Params={
                "Bucket": self.bucket,
                "Key": self.key(subject_id, export_id),
                "ResponseContentDisposition": f'attachment; filename="{file_name}"',
                "ResponseContentType": CONTENT_TYPE,
                "ResponseCacheControl": "no-store",
            },
            ExpiresIn=seconds,
        )
        return url


class ArchiveUpload(io.RawIOBase):
    """A write-only stream into one multipart upload; `finish()` completes it, `abort()` drops its parts.

    Also keeps the SHA-256 of everything written (`sha256`) and its length (`size_bytes`).
    """

    def __init__(self, bucket: str, key: str) -> None:
        super().__init__()
        self.bucket, self.key = bucket, key
        created = clients.s3().create_multipart_upload(Bucket=bucket, Key=key, ContentType=CONTENT_TYPE)
        self.upload_id: str = created["UploadId"]
        self._buffer = bytearray()
        self._parts: list[CompletedPartTypeDef] = []
        self._digest = hashlib.sha256()
        self.size_bytes = 0

    def writable(self) -> bool:
        """Always: the stream is write-only."""
        return True

    def write(self, data: Any) -> int:
        """Buffer `data` (any bytes-like object), sending each full part; returns its length."""
        view = memoryview(data).cast("B")
        length = len(view)
        self._digest.update(view)
        self.size_bytes += length
        while view:
            room = PART_BYTES - len(self._buffer)
            self._buffer += view[:room]
            view = view[room:]
            if len(self._buffer) == PART_BYTES:
                self._send(self._buffer)
                self._buffer = bytearray()
        return length

    @property
    def sha256(self) -> str:
        """The hex SHA-256 of the bytes written so far."""
        return self._digest.hexdigest()

    def _send(self, body: bytes | bytearray) -> None:
        number = len(self._parts) + 1
        if number > MAX_PARTS:
            raise ArchiveTooLarge(f"An archive is at most {MAX_PARTS} parts of {PART_BYTES} bytes.")
        sent = clients.s3().upload_part(
            # botocore takes a bytearray as a blob (its stubs say bytes): the part is sent without a copy.
            Bucket=self.bucket,
            Key=self.key,
            UploadId=self.upload_id,
            PartNumber=number,
            Body=cast("bytes", body),
        )
        self._parts.append({"ETag": sent["ETag"], "PartNumber": number})

    def finish(self) -> str:
        """Send the last part and complete the upload; returns the new object's version id."""
        if self._buffer or not self._parts:
            self._send(self._buffer)
            self._buffer = bytearray()
        done = clients.s3().complete_multipart_upload(
            Bucket=self.bucket, Key=self.key, UploadId=self.upload_id, MultipartUpload={"Parts": self._parts}
        )
        return str(done.get("VersionId", ""))

    def abort(self) -> None:
        """Drop the upload and every part sent (`AbortMultipartUpload`)."""
        self._buffer.clear()
        clients.s3().abort_multipart_upload(Bucket=self.bucket, Key=self.key, UploadId=self.upload_id)
