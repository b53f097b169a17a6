"""The exporter's job: one customer's data, decrypted, streamed into one ZIP archive in the exports bucket.

The archive (`ARCHIVE_FORMAT`):

* `index.html` — a human-readable summary: the account, consents, profile, counts per store, the
  documents and who in staff saw the data;
* `manifest.json` — every other file (`index.html` included) with its size, SHA-256 and item
  count, and counts per store;
  its own SHA-256 is kept on the job and attested by the audit event;
* `account.json` — the sign-in e-mail address (held by Cognito), status, times, granted purposes with
  their policy versions, a restriction of processing (GDPR art. 18) while it lasts, retention per category;
* `data/<store>.json` and `data/<store>.csv` — every item of each personal table store as the access
  report shows it (sealed fields opened, the card as brand and last four digits); a CSV row is the
  item's sort key, its category's declared fields, and `other` (the rest, as JSON);
* `data/documents.json` and `documents/<document id>/<file name>` — each document, decrypted.

It is driven by the data map: a personal store added there is exported without an edit here; the
exports bucket itself is counted, not copied (an export never holds earlier exports).

**Bounded memory.** Items are read a page at a time, written through the ZIP stream into
`ArchiveUpload` (one 8 MiB part buffered), and a store's CSV is spooled to a temporary file
(memory up to `CSV_SPOOL_BYTES`, then the function's ephemeral storage) while its JSON is written,
so both come from one read. Peak memory is one part, one spool buffer and one document.

**Fenced like an upload** (docs/architecture.md, "Erasure is final"): the job's intent adds
`<deadline>#<export id>` to the subject's uploads in flight; its commit removes it under the
consent version read at the intent. An erasure that starts meanwhile refuses the commit and waits
in Verify for the deadline, then deletes whatever landed.
"""

from __future__ import annotations

import csv
import hashlib
import html
import io
import json
import tempfile
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from typing import IO, Any, Final

from custody.audit.ledger import AuditLedger, subject_chain
from custody.crypto.keyring import SubjectKeyring, get_keyring
from custody.customers.access_report import ReportContext, bucket_entries, restriction_of, table_entries
from custody.customers.documents import SETTLE_SECONDS, DocumentStore
from custody.customers.exports import STORE, ExportStatus, shown_status
from custody.customers.profile import StoredProfile
from custody.deadlines.register import RequestsRegister
from custody.declared import clock, datamap
from custody.declared.settings import Settings
from custody.stores import dynamo
from custody.stores.exports import ArchiveUpload, ExportsBucket
from custody.stores.identities import CustomerIdentity
from custody.stores.subjects import Subject, SubjectRegistry

ARCHIVE_FORMAT: Final = "crm-custody-export/1"
CSV_SPOOL_BYTES: Final = 2 * 1024 * 1024
SUMMARY_ROWS: Final = 200  # rows per list in index.html; the data files hold everything
# Already-compressed document types are stored, not deflated again.
_STORED_TYPES: Final = frozenset({"application/pdf", "image/png", "image/jpeg"})


def _plain(value: Any) -> Any:
    if isinstance(value, set | frozenset):
        return sorted(value)
    if isinstance(value, bytes | bytearray):
        return value.hex()
    return str(value)


def to_json(value: Any) -> str:
    """`value` as compact JSON, non-ASCII kept (sets as sorted lists, anything else as its string)."""
    return json.dumps(value, ensure_ascii=False, default=_plain, separators=(",", ":"))


@dataclass
class FileEntry:
    """One file of the archive as the manifest lists it: path, size in bytes, SHA-256, and items (data files)."""

    path: str
    bytes: int = 0
    sha256: str = ""
    items: int | None = None


class _Counted(io.RawIOBase):
    """A write-through stream that counts and hashes what goes into one archive member."""

    def __init__(self, target: IO[bytes], entry: FileEntry) -> None:
        super().__init__()
        self.target, self.entry, self.digest = target, entry, hashlib.sha256()

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        view = memoryview(data).cast("B")
        self.target.write(view)
        self.digest.update(view)
        self.entry.bytes += len(view)
        return len(view)

    def close(self) -> None:
        self.entry.sha256 = self.digest.hexdigest()
        super().close()


@dataclass
class _Summary:
    """What `index.html` shows, gathered while the data files are written (bounded lists)."""

    profile: dict[str, dict[str, Any]] = field(default_factory=dict)
    documents: list[dict[str, Any]] = field(default_factory=list)
    staff_access: list[dict[str, Any]] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)


class ArchiveWriter:
    """Writes one customer's archive into `upload` (a binary stream), reading the stores of `settings`."""

    def __init__(self, settings: Settings, subject: Subject, keyring: SubjectKeyring, export_id: str) -> None:
        self.settings, self.subject, self.export_id = settings, subject, export_id
        self.context = ReportContext(settings, subject, keyring)  # the access report's readers, one key unwrap
        self.generated_at = clock.now_iso()
        self.files: list[FileEntry] = []
        self.summary = _Summary()

    def write(self, upload: IO[bytes] | io.RawIOBase) -> str:
        """Write every member and the manifest; returns the manifest's SHA-256."""
        with zipfile.ZipFile(upload, mode="w", compression=zipfile.ZIP_DEFLATED, allowZip64=True) as archive:
            self._member(archive, "account.json", self._account().encode())
            for store in datamap.STORES:
                if store.classification is not datamap.Classification.PERSONAL:
                    continue
                if isinstance(store, datamap.TableStore):
                    self._table(archive, store)
                elif store.name == "documents":
                    self._documents(archive, store)
                else:
                    self._bucket_listing(archive, store)
            self._member(archive, "index.html", render_summary(self.subject, self.summary, self._manifest()).encode())
            manifest = self._manifest()
            manifest_bytes = json.dumps(manifest, ensure_ascii=False, indent=2).encode()
            with archive.open("manifest.json", "w") as member:
                member.write(manifest_bytes)
        return hashlib.sha256(manifest_bytes).hexdigest()

    @contextmanager
    def _open(
        self, archive: zipfile.ZipFile, entry: FileEntry, info: zipfile.ZipInfo | None = None
    ) -> Iterator[io.RawIOBase]:
        """A member of the archive to write, counted and hashed into `entry`, which the manifest then lists."""
        with archive.open(info or entry.path, "w", force_zip64=True) as member, _Counted(member, entry) as counted:
            yield counted
        self.files.append(entry)

    def _member(self, archive: zipfile.ZipFile, path: str, content: bytes, *, items: int | None = None) -> None:
        with self._open(archive, FileEntry(path, items=items)) as out:
            out.write(content)

    def _account(self) -> str:
        subject = self.subject
        retention = {
            category.name: {"store": category.store, "retention_days": category.retention_days}
            for category in datamap.CATEGORIES
        }
        return json.dumps(
            {
                "subject_id": subject.subject_id,
                "email": CustomerIdentity(self.settings).email(subject.subject_id),
                "status": subject.status.value,
                "created_at": subject.created_at,
                "last_active_at": subject.last_active_at,
                "granted": dict(sorted(subject.granted.items())),
                "restriction": restriction_of(subject),
                "retention": retention,
            },
            indent=2,
        )

    def _items(self, store: datamap.TableStore) -> Iterator[dict[str, Any]]:
        """The store's items as the access report shows them; a profile category as the customer is shown it."""
        for position, item in table_entries(self.context, store, None):
            yield StoredProfile(0, {position: item}).view()[position] if store.name == "profiles" else item

    def _table(self, archive: zipfile.ZipFile, store: datamap.TableStore) -> None:
        columns = _csv_columns(store)
        json_entry = FileEntry(f"data/{store.name}.json")
        count = 0
        with tempfile.SpooledTemporaryFile(max_size=CSV_SPOOL_BYTES) as spool:
            text = io.TextIOWrapper(spool, encoding="utf-8", newline="")
            rows = csv.writer(text)
            rows.writerow(columns)
            with self._open(archive, json_entry) as out:
                out.write(b"[")
                for item in self._items(store):
                    out.write((b",\n" if count else b"\n") + to_json(item).encode())
                    rows.writerow(_csv_row(columns, item))
                    self._summarize(store, item)
                    count += 1
                out.write(b"\n]\n")
                json_entry.items = count
            text.flush()
            spool.seek(0)
            with self._open(archive, FileEntry(f"data/{store.name}.csv", items=count)) as out:
                while chunk := spool.read(1024 * 1024):
                    out.write(chunk)
            text.detach()
        self.summary.counts[store.name] = count

    def _summarize(self, store: datamap.TableStore, item: dict[str, Any]) -> None:
        if store.name == "profiles":
            self.summary.profile[str(item.get(store.sort_key))] = {
                name: value for name, value in item.items() if name not in (store.sort_key, "updated_at")
            }
        elif store.name == "staff_access" and len(self.summary.staff_access) < SUMMARY_ROWS:
            self.summary.staff_access.append(item)

    def _documents(self, archive: zipfile.ZipFile, store: datamap.BucketStore) -> None:
        documents = DocumentStore(self.settings, self.context.keyring)
        listed: list[dict[str, Any]] = []
        for entry in documents.list(self.subject.subject_id):
            document, content = documents.download(self.subject.subject_id, entry["document_id"])
            path = f"documents/{document.document_id}/{portable_name(document.file_name)}"
            stored = zipfile.ZIP_STORED if document.content_type in _STORED_TYPES else zipfile.ZIP_DEFLATED
            info = zipfile.ZipInfo(path, date_time=_zip_time(document.uploaded_at))
            info.compress_type = stored
            with self._open(archive, FileEntry(path), info) as out:
                out.write(content)
            shown = {
                "document_id": document.document_id,
                "file_name": document.file_name,
                "content_type": document.content_type,
                "size_bytes": document.size_bytes,
                "uploaded_at": document.uploaded_at,
                "path": path,
            }
            listed.append(shown)
            if len(self.summary.documents) < SUMMARY_ROWS:
                self.summary.documents.append(shown)
            self.summary.counts[store.name] = self.summary.counts.get(store.name, 0) + 1
        self.summary.counts.setdefault(store.name, 0)
        self._member(
            archive, "data/documents.json", json.dumps(listed, indent=2).encode(), items=self.summary.counts[store.name]
        )

    def _bucket_listing(self, archive: zipfile.ZipFile, store: datamap.BucketStore) -> None:
        objects = [entry for _, entry in bucket_entries(self.context, store, None)]
        self.summary.counts[store.name] = len(objects)
        # The exports bucket is listed, not copied: an export never holds earlier exports.
        self._member(archive, f"data/{store.name}.json", json.dumps(objects, indent=2).encode(), items=len(objects))

    def _manifest(self) -> dict[str, Any]:
        return {
            "format": ARCHIVE_FORMAT,
            "export_id": self.export_id,
            "subject_id": self.subject.subject_id,
            "generated_at": self.generated_at,
            "counts": dict(sorted(self.summary.counts.items())),
            "files": [vars(entry) for entry in self.files],
        }


# Names Windows cannot create, whatever the extension (Microsoft, "Naming files, paths, and namespaces").
_RESERVED_NAMES: Final = frozenset(
    {"CON", "PRN", "AUX", "NUL", *(f"COM{n}" for n in range(1, 10)), *(f"LPT{n}" for n in range(1, 10))}
)


def portable_name(file_name: str) -> str:
    """`file_name` as every common file system can create it on unzipping: no trailing space or dot, no device name.

    The upload rules already keep out separators and `..`; `data/documents.json` keeps the name as uploaded.
    """
    name = file_name.rstrip(" .") or "document"
    if name.split(".", 1)[0].upper() in _RESERVED_NAMES:
        name = "_" + name
    return name


def _csv_columns(store: datamap.TableStore) -> list[str]:
    columns = [store.sort_key]
    for category in datamap.categories_in(store.name):
        columns += [name for name in category.fields if name not in columns]
    return [*columns, "other"]


def _csv_row(columns: list[str], item: dict[str, Any]) -> list[str]:
    declared = columns[:-1]
    row = [_cell(item.get(name)) for name in declared]
    rest = {name: value for name, value in item.items() if name not in declared}
    return [*row, to_json(rest) if rest else ""]


def _cell(value: Any) -> str:
    if value is None:
        return ""
    text = value if isinstance(value, str) else to_json(value)
    # A cell a spreadsheet would run as a formula is prefixed with a quote (OWASP, "CSV Injection").
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def _zip_time(at: str) -> tuple[int, int, int, int, int, int]:
    moment = clock.parse(at)
    return (max(moment.year, 1980), moment.month, moment.day, moment.hour, moment.minute, moment.second)


def render_summary(subject: Subject, summary: _Summary, manifest: dict[str, Any]) -> str:
    """`index.html`: the export for a person to read. Every value is HTML-escaped; no script, no remote resource."""

    def esc(value: Any) -> str:
        return html.escape(value if isinstance(value, str) else to_json(value))

    def table(headers: list[str], rows: list[list[Any]]) -> str:
        head = "".join(f"<th scope='col'>{esc(name)}</th>" for name in headers)
        body = "".join("<tr>" + "".join(f"<td>{esc(cell)}</td>" for cell in row) + "</tr>" for row in rows)
        return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"

    profile = "".join(
        f"<h3>{esc(category)}</h3>" + table(["Field", "Value"], [list(pair) for pair in sorted(values.items())])
        for category, values in sorted(summary.profile.items())
    )
    counts = table(["Store", "Items"], [[name, count] for name, count in sorted(summary.counts.items())])
    consents = table(["Purpose", "Policy version"], [[p, v] for p, v in sorted(subject.granted.items())])
    documents = table(
        ["File", "Type", "Bytes", "Uploaded", "In this archive"],
        [[d["file_name"], d["content_type"], d["size_bytes"], d["uploaded_at"], d["path"]] for d in summary.documents],
    )
    staff = table(
        ["Entry", "Staff", "Purpose", "Ticket", "Categories"],
        [
            [e.get("access_key"), e.get("staff_id"), e.get("purpose"), e.get("ticket"), e.get("categories")]
            for e in summary.staff_access
        ],
    )
    files = table(["File", "Bytes", "SHA-256"], [[f["path"], f["bytes"], f["sha256"]] for f in manifest["files"]])
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
<title>Your data at CRM Custody</title>
<style>body{{font-family:sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem}}
table{{border-collapse:collapse;margin:.5rem 0 1.5rem}}
td,th{{border:1px solid #888;padding:.25rem .5rem;text-align:left;vertical-align:top}}</style>
</head><body><main>
<h1>Your data at CRM Custody</h1>
<p>Export {esc(manifest["export_id"])}, made {esc(manifest["generated_at"])}, for account {esc(subject.subject_id)}.
Everything we hold about you is in the files of this archive; <code>manifest.json</code> lists each with its
SHA-256 digest. This page shows at most {SUMMARY_ROWS} rows per list.</p>
<h2>What we hold, by store</h2>{counts}
<h2>Consents you have given</h2>{consents}
<h2>Your profile</h2>{profile or "<p>No profile.</p>"}
<h2>Your documents</h2>{documents}
<h2>Who in our staff was granted or saw your data</h2>{staff}
<h2>Files in this archive</h2>{files}
</main></body></html>
"""


class ExportJob:
    """Runs export jobs under `settings` (`keyring`: the process-wide one by default)."""

    def __init__(self, settings: Settings, keyring: SubjectKeyring | None = None) -> None:
        self.settings = settings
        self.subjects = SubjectRegistry(settings)
        self.bucket = ExportsBucket(settings)
        self.keyring = keyring or get_keyring()
        self.audit = AuditLedger(settings)
        self.register = RequestsRegister(settings)

    def run(self, subject_id: str, export_id: str, remaining_ms: int) -> ExportStatus | None:
        """Write the archive of job `export_id`; returns the job's new status, None when there was nothing to do.

        Nothing is done for a job that is not `queued` (a duplicate or late delivery), or once the
        customer's erasure has started. A failure while writing aborts the upload and marks the job
        `failed` with the exception's class name (never its message); a commit refused because the
        consents moved marks it `failed` (`consents_changed`); one refused by an erasure leaves it to
        the erasure. `remaining_ms` is the invocation's remaining time (Lambda context): the upload's
        deadline is that plus `documents.SETTLE_SECONDS`. AWS errors before the intent pass through as
        botocore's `ClientError` (Lambda retries the invocation).
        """
        deadline = clock.iso(clock.now() + timedelta(milliseconds=max(remaining_ms, 0), seconds=SETTLE_SECONDS))
        entry = f"{deadline}#{export_id}"
        subject = self.subjects.load(subject_id)
        job = subject.exports.get(export_id)
        if job is None or job["status"] != ExportStatus.QUEUED or subject.erasure_started:
            return None
        running = {**job, "status": ExportStatus.RUNNING.value, "deadline": deadline, "updated_at": clock.now_iso()}
        running["consent_version"] = subject.consent_version
        try:
            dynamo.transact(
                [self.subjects.begin_export(subject, export_id, entry, {k: running[k] for k in _RUNNING_FIELDS})]
            )
        except dynamo.TransactionConflict:
            return None
        upload = self.bucket.upload(subject_id, export_id)
        writer = ArchiveWriter(self.settings, subject, self.keyring, export_id)
        try:
            manifest_sha256 = writer.write(upload)
            upload.finish()
        except Exception as error:
            _abort_quietly(upload)
            return self._fail(subject, export_id, entry, running, type(error).__name__)
        counts = {**writer.summary.counts, "files": len(writer.files) + 1, "bytes": upload.size_bytes}
        ready = {
            **running,
            "status": ExportStatus.READY.value,
            "updated_at": clock.now_iso(),
            "size_bytes": upload.size_bytes,
            "sha256": upload.sha256,
            "manifest_sha256": manifest_sha256,
            "counts": counts,
        }
        try:
            self.subjects.end_export(subject, export_id, entry, ready, fenced=True)
        except dynamo.TransactionConflict:
            return self._fail(subject, export_id, entry, running, "consents_changed")
        self._record(subject_id, export_id, "ok", counts, manifest_sha256)
        self._answered(subject, export_id)
        return ExportStatus.READY

    def _answered(self, subject: Subject, export_id: str) -> None:
        """The access request is answered (the register; the completion notice to the sign-in address).

        So are the customer's earlier access requests whose export failed: this archive answers them too.
        """
        address = CustomerIdentity(self.settings).email(subject.subject_id)
        answered = [export_id] if self.register.answered(export_id, "ready", address) else []
        now = clock.now_iso()
        for other, job in subject.exports.items():
            failed = other != export_id and shown_status(job, subject, now) is ExportStatus.FAILED
            if failed and self.register.answered(other, "ready", notify=False):
                answered.append(other)
        for request_id in answered:
            self.subjects.close_request(subject.subject_id, request_id)

    def _fail(
        self, subject: Subject, export_id: str, entry: str, running: dict[str, Any], failure: str
    ) -> ExportStatus | None:
        failed = {**running, "status": ExportStatus.FAILED.value, "updated_at": clock.now_iso(), "failure": failure}
        try:
            self.subjects.end_export(subject, export_id, entry, failed, fenced=False)
        except dynamo.TransactionConflict:
            return None  # an erasure started: the job goes with the record, the object with the erasure
        self._record(subject.subject_id, export_id, "failed", {}, None)
        self.register.unanswered(export_id, "export_failed")  # still open: the customer is still owed an answer
        return ExportStatus.FAILED

    def _record(
        self, subject_id: str, export_id: str, outcome: str, counts: dict[str, int], attests: str | None
    ) -> None:
        self.audit.record(
            step="export_written",
            target=STORE,
            outcome=outcome,
            actor="exporter",
            subject_id=subject_id,
            request_id=export_id,
            chain_id=subject_chain(subject_id),
            counts=counts,
            attests=attests,
        )


_RUNNING_FIELDS: Final = ("status", "deadline", "updated_at", "consent_version")


def _abort_quietly(upload: ArchiveUpload) -> None:
    try:
        upload.abort()
    except Exception:  # the bucket's lifecycle rule and the erasure's clean-up abort it too
        return
